export type SiteStatus = 'active' | 'suspended';

export interface Site {
  id: number;
  slug: string;
  name: string;
  schemaName: string;
  status: SiteStatus;
  statusReason: string | null;
  deletedAt: Date | null;
  deletedBy: string | null;
  purgeAfter: Date | null;
  isNetworkAdmin: boolean;
  settings: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

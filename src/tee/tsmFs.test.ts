// The node:fs implementation on a real directory. A plain directory cannot behave like configfs
// (mkdir creates no attributes, outblob is not generated on read), so this covers the node:fs code
// paths and the error mapping and detection that do not depend on configfs semantics; the protocol
// itself is tested against the emulated tree (configfsTsm.test.ts).
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigfsTsmProvider } from './configfsTsm.js';
import { detectEvidenceProvider } from './detectProvider.js';
import { NoTeeError, TeeDeviceError, type EvidenceProvider } from './provider.js';
import { errnoOf, nodeTsmFs, pathExists } from './tsmFs.js';

// Root bypasses file permissions, so permission cases only mean something for other users.
const asRoot = process.getuid?.() === 0;

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloister-tsmfs-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejectsWithErrno(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e) => {
    assert.equal(errnoOf(e), code);
    return true;
  });
}

describe('nodeTsmFs', () => {
  it('creates and removes directories', async () => {
    const d = join(dir, 'entry');
    await nodeTsmFs.mkdir(d);
    await rejectsWithErrno(nodeTsmFs.mkdir(d), 'EEXIST');
    await nodeTsmFs.rmdir(d);
    await rejectsWithErrno(nodeTsmFs.rmdir(d), 'ENOENT');
    await rejectsWithErrno(nodeTsmFs.mkdir(join(dir, 'no', 'parent')), 'ENOENT');
  });

  it('writes into existing files only, never creating one', async () => {
    const f = join(dir, 'inblob');
    await writeFile(f, new Uint8Array(0));
    await nodeTsmFs.writeFile(f, new Uint8Array(64).fill(7));
    assert.deepEqual(new Uint8Array(await readFile(f)), new Uint8Array(64).fill(7));
    await nodeTsmFs.writeFile(f, new Uint8Array(0));
    const missing = join(dir, 'absent');
    await rejectsWithErrno(nodeTsmFs.writeFile(missing, new Uint8Array(1)), 'ENOENT');
    assert.equal(await pathExists(nodeTsmFs, missing), false);
  });

  it('reads to EOF, in chunks, whatever the size', async () => {
    const big = new Uint8Array(40_000).map((_, i) => i % 251);
    await writeFile(join(dir, 'big'), big);
    assert.deepEqual(await nodeTsmFs.readFile(join(dir, 'big')), big);
    await writeFile(join(dir, 'empty'), new Uint8Array(0));
    assert.deepEqual(await nodeTsmFs.readFile(join(dir, 'empty')), new Uint8Array(0));
    await rejectsWithErrno(nodeTsmFs.readFile(join(dir, 'absent')), 'ENOENT');
    await rejectsWithErrno(nodeTsmFs.readFile(dir), 'EISDIR');
  });

  it('checks existence and access', async () => {
    const f = join(dir, 'device');
    await writeFile(f, '');
    await nodeTsmFs.access(f, 'exists');
    await nodeTsmFs.access(f, 'read');
    await nodeTsmFs.access(f, 'read-write');
    assert.equal(await pathExists(nodeTsmFs, f), true);
    assert.equal(await pathExists(nodeTsmFs, join(dir, 'absent')), false);
    assert.equal(await pathExists(nodeTsmFs, join(f, 'below-a-file')), false, 'ENOTDIR counts as missing');
    await rejectsWithErrno(nodeTsmFs.access(join(dir, 'absent'), 'exists'), 'ENOENT');
  });

  it('reports EACCES for a file it may not write', { skip: asRoot ? 'running as root' : false }, async () => {
    const f = join(dir, 'read-only');
    await writeFile(f, '');
    await chmod(f, 0o400);
    await rejectsWithErrno(nodeTsmFs.access(f, 'read-write'), 'EACCES');
    await rejectsWithErrno(nodeTsmFs.writeFile(f, new Uint8Array(1)), 'EACCES');
  });

  it('rethrows errors other than ENOENT/ENOTDIR from pathExists', async () => {
    const fs = { ...nodeTsmFs, access: () => Promise.reject(Object.assign(new Error('denied'), { code: 'EACCES' })) };
    await rejectsWithErrno(pathExists(fs, '/x'), 'EACCES');
    assert.equal(errnoOf(new Error('x')), undefined);
    assert.equal(errnoOf({ code: 'ERR_SOMETHING' }), undefined);
    assert.equal(errnoOf(null), undefined);
  });
});

describe('configfs-tsm and detection on a real directory', () => {
  it('maps a missing root to TeeDeviceError ENOENT naming the root', async () => {
    const root = join(dir, 'no-configfs', 'tsm', 'report');
    await assert.rejects(ConfigfsTsmProvider.open({ root }), (e) => {
      assert.ok(e instanceof TeeDeviceError);
      assert.equal(e.errno, 'ENOENT');
      assert.match(e.message, new RegExp(`root ${root} does not exist`));
      return true;
    });
  });

  it('removes its probe entry when a plain directory turns out not to be configfs', async () => {
    // mkdir succeeds on a plain directory, but the entry has no provider attribute.
    const root = join(dir, 'plain', 'tsm', 'report');
    await mkdir(root, { recursive: true });
    await assert.rejects(ConfigfsTsmProvider.open({ root, entryName: () => 'probe' }), (e) => {
      assert.ok(e instanceof TeeDeviceError);
      assert.equal(e.errno, 'ENOENT');
      assert.equal(e.field, 'provider');
      assert.match(e.message, /read .*\/probe\/provider: no such file or directory \(ENOENT\)/);
      return true;
    });
    assert.deepEqual(await readdir(root), []);
  });

  it('detects device nodes laid out in a temporary directory', async () => {
    const dev = join(dir, 'dev');
    await mkdir(dev);
    const sevGuestPath = join(dev, 'sev-guest');
    const tdxGuestPath = join(dev, 'tdx_guest');
    const configfsRoot = join(dir, 'absent-configfs');
    await assert.rejects(detectEvidenceProvider({ configfsRoot, sevGuestPath, tdxGuestPath }), (e) => {
      assert.ok(e instanceof NoTeeError);
      assert.deepEqual(e.lookedFor, [`configfs-tsm ${configfsRoot}: missing`, `sev-guest ${sevGuestPath}: missing`, `tdx-guest ${tdxGuestPath}: missing`]);
      return true;
    });
    await writeFile(tdxGuestPath, '');
    const made: string[] = [];
    const createDeviceProvider = (kind: 'sev-guest' | 'tdx-guest', path: string): EvidenceProvider => {
      made.push(`${kind} ${path}`);
      return { name: kind, platform: 'tdx', simulated: false, getEvidence: () => Promise.reject(new Error('unused')) };
    };
    await detectEvidenceProvider({ configfsRoot, sevGuestPath, tdxGuestPath, createDeviceProvider });
    assert.deepEqual(made, [`tdx-guest ${tdxGuestPath}`]);
  });

  it('says permission denied for a root it may not write', { skip: asRoot ? 'running as root' : false }, async () => {
    const root = join(dir, 'locked', 'report');
    await mkdir(root, { recursive: true });
    await chmod(root, 0o500);
    try {
      await assert.rejects(detectEvidenceProvider({ configfsRoot: root, sevGuestPath: join(dir, 'x'), tdxGuestPath: join(dir, 'y') }), (e) => {
        assert.ok(e instanceof NoTeeError);
        assert.equal(e.lookedFor[0], `configfs-tsm ${root}: permission denied (EACCES)`);
        return true;
      });
    } finally {
      await chmod(root, 0o700);
    }
  });
});

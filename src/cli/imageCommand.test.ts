import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli } from '../testing/cliRun.js';
import { IMAGE_BUILD_HELP, IMAGE_HELP, IMAGE_PIN_HELP } from './imageCommand.js';

describe('cloister image', () => {
  it('is listed in the main help', async () => {
    assert.match((await cli('--help')).stdout, /\n {2}image +build the reproducible VM image/);
  });

  it('prints its help and each subcommand\'s', async () => {
    assert.deepEqual(await cli('image', '--help'), { code: 0, stdout: IMAGE_HELP, stderr: '' });
    assert.deepEqual(await cli('image', 'build', '--help'), { code: 0, stdout: IMAGE_BUILD_HELP, stderr: '' });
    assert.deepEqual(await cli('image', 'pin', '-h'), { code: 0, stdout: IMAGE_PIN_HELP, stderr: '' });
    assert.equal((await cli('image')).code, 2);
  });

  const usage: readonly [string[], RegExp][] = [
    [['image', 'frob'], /unknown image command "frob" \(build, pin\)/],
    [['image', 'build', '--variant', 'debug'], /--variant must be production, test or both, got "debug"/],
    [['image', 'build', '--out', 'a', '--out', 'b'], /--out is given more than once/],
    [['image', 'build', '--bogus'], /Unknown option '--bogus'/],
    [['image', 'pin', 'extra'], /Unexpected argument 'extra'/],
  ];
  for (const [argv, message] of usage) {
    it(`refuses ${argv.join(' ')} with one USAGE line`, async () => {
      const r = await cli(...argv);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /^error \[USAGE\]: .*\(see cloister image( build| pin)? --help\)\n$/);
      assert.match(r.stderr, message);
    });
  }
});

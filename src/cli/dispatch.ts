// Subcommand dispatch for `cloister`.
import { errorLine, EXIT, type CliIo } from './io.js';
import { UsageError } from '../base/runtimeErrors.js';
import { collateralCommand } from './collateralCommand.js';
import { evidenceCommand } from './evidenceCommand.js';
import { fleetCommand } from './fleetCommand.js';
import { fleetLocalCommand } from './fleetLocalCommand.js';
import { relayCommand } from './relayCommand.js';
import { requestCommand } from './requestCommand.js';
import { imageCommand } from './imageCommand.js';
import { issuerCommand } from './issuerCommand.js';
import { localCommand } from './localCommand.js';
import { measureCommand } from './measureCommand.js';
import { publishCommand } from './publishCommand.js';
import { serveCommand } from './serveCommand.js';
import { supervisedHooks } from './supervised.js';
import { verifyCommand } from './verifyCommand.js';
import { verifyEvidenceCommand } from './verifyEvidenceCommand.js';
import { verifyWebCommand } from './verifyWebCommand.js';
import { witnessCommand } from './witnessCommand.js';

interface Command {
  readonly summary: string;
  readonly run: (argv: string[], io: CliIo) => Promise<number>;
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  serve: { summary: 'start the server (attestation evidence, status); --simulated without a TEE', run: (argv, io) => serveCommand(argv, io, supervisedHooks()) },
  evidence: { summary: 'obtain attestation evidence (hardware or --simulated) as a self-contained bundle', run: (argv, io) => evidenceCommand(argv, io) },
  verify: { summary: 'connect to a server and verify its attested TLS certificate (RA-TLS): https://HOST:PORT', run: verifyCommand },
  'verify-evidence': { summary: 'verify SEV-SNP attestation evidence offline (report, extended report or bundle)', run: verifyEvidenceCommand },
  'verify-web': { summary: 'check that a copy of the verify page (a directory or URL) is the one published to a transparency log', run: verifyWebCommand },
  collateral: { summary: 'fetch Intel PCS collateral (TCB info, QE identity, CRLs) for a TDX quote, or convert saved PCS responses', run: (argv, io) => collateralCommand(argv, io) },
  measure: { summary: 'compute the launch measurement (SEV-SNP, TDX) an image must produce, or explain a mismatch', run: measureCommand },
  publish: { summary: 'sign an image build\'s measurements and append them to a transparency log of static tiles (clients: --log)', run: publishCommand },
  local: { summary: 'the local stack (npm start): a Privacy Pass issuer, a server on the simulated TEE with the bundled models, and a relay, as three processes', run: (argv, io) => localCommand(argv, io) },
  request: { summary: 'send a file for private processing through a relay (an image: prints its text)', run: requestCommand },
  image: { summary: 'build the reproducible VM image (kernel, initramfs, command line, manifest) from image/inputs.json, or pin its inputs', run: imageCommand },
  relay: { summary: 'run an Oblivious HTTP relay for Cloister gateways: --gateway [NAME=]URL', run: (argv, io) => relayCommand(argv, io, supervisedHooks()) },
  issuer: { summary: 'run a Privacy Pass issuer (token type 0x0002 or 0x0001) for the accounts in --accounts, outside the VM', run: (argv, io) => issuerCommand(argv, io, supervisedHooks()) },
  fleet: {
    summary: 'serve a fleet\'s directory: every node (--node NAME=URL=FIRST-LAST) verified as a client would, listed with its keys and attestation; "fleet local" (npm run fleet) starts a whole fleet on loopback',
    // `fleet local` supervises; the directory service (and `fleet haproxy`) may be supervised.
    run: (argv, io) => (argv[0] === 'local' ? fleetLocalCommand(argv.slice(1), io) : fleetCommand(argv, io, supervisedHooks())),
  },
  witness: { summary: 'run a transparency log witness (C2SP tlog-witness): cosign checkpoints of the --log logs that extend the last one cosigned', run: (argv, io) => witnessCommand(argv, io, supervisedHooks()) },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'Usage: cloister COMMAND [options]',
    '',
    'Cloister: private processing on attested confidential VMs.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Run "cloister COMMAND --help" for the options of a command.',
    '',
  ].join('\n');
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(mainHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr(errorLine(new UsageError('USAGE', `unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')}; see cloister --help)`)));
    return EXIT.usage;
  }
  return command.run(rest, io);
}

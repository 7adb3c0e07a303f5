// The server's logger: pino with a fixed base that says which TEE runs, so every line of a
// simulated server says SIMULATED.
import { pino, type Logger } from 'pino';

export function createLogger(options: { simulated: boolean; platform: string; level?: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'cloister', platform: options.platform, tee: options.simulated ? 'SIMULATED' : 'hardware' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? process.stdout,
  );
}

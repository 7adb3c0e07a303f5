// `cloister issuer`, `cloister serve` and `cloister relay` as children of `cloister local` (src/cli/childCommand.ts). The
// supervisor opens an IPC channel to each and sets SUPERVISED_ENV; such a child sends one ReadyMessage when
// it listens, and stops when the channel closes: the supervisor went away, even killed outright, so no child
// outlives it.
import { EXIT } from './io.js';

export const SUPERVISED_ENV = 'CLOISTER_SUPERVISED';

export interface ReadyMessage {
  readonly type: 'cloister-ready';
  readonly url: string;
}

export function isReadyMessage(message: unknown): message is ReadyMessage {
  return typeof message === 'object' && message !== null && (message as { type?: unknown }).type === 'cloister-ready' && typeof (message as { url?: unknown }).url === 'string';
}

export interface SupervisedHooks {
  readonly onListening?: (url: string) => void;
  readonly stopSignal?: (close: () => Promise<void>) => void;
}

/** The hooks issuer, serve and relay take when a supervisor started them; none otherwise (their defaults apply). */
export function supervisedHooks(env: NodeJS.ProcessEnv = process.env): SupervisedHooks {
  if (env[SUPERVISED_ENV] !== '1' || process.send === undefined) return {};
  let close: (() => Promise<void>) | undefined;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Gone before the command listened: nothing to close yet.
    if (close === undefined) process.exit(EXIT.rejected);
    void close().then(() => process.exit(EXIT.ok));
  };
  process.once('disconnect', stop);
  // The channel alone must not keep the process running (a command that fails to start exits).
  process.channel?.unref();
  return {
    onListening: (url) => {
      const ready: ReadyMessage = { type: 'cloister-ready', url };
      // A closed channel is noticed through 'disconnect'; the callback keeps send from throwing.
      process.send?.(ready, undefined, {}, () => undefined);
    },
    stopSignal: (c) => {
      close = c;
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      if (!process.connected) stop();
    },
  };
}

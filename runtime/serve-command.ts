import { EXIT, UserError, parseFlags, type Command } from '../bin/cli-support.ts';
import { createLogger } from './log.ts';
import { DEFAULT_CONFIG_DIR } from './runtime-config.ts';
import { startServe } from './serve.ts';

export const serveCommand: Command = {
  summary: 'Run the service next to Asterisk: AMI session, journals, SNOM record key, web client (systemd runs it).',
  usage: 'mitschnitt serve [--config DIR] [--secrets DIR] [--listen HOST:PORT] [--verbose]',
  async run(argv) {
    const { values } = parseFlags(argv, {
      config: { type: 'string', default: DEFAULT_CONFIG_DIR },
      secrets: { type: 'string' },
      listen: { type: 'string' },
      verbose: { type: 'boolean', default: false },
    });
    const log = createLogger({ verbose: values.verbose });
    let handle;
    try {
      handle = await startServe({
        configDir: values.config,
        log,
        verbose: values.verbose,
        ...(values.secrets ? { secretsDir: values.secrets } : {}),
        ...(values.listen ? { listen: values.listen } : {}),
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE' || e.code === 'EACCES') throw new UserError(`cannot listen for HTTP: ${e.message}`);
      throw err;
    }
    const running = handle;
    // systemd stops us with SIGTERM; finish journals in progress, then exit 0.
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        log.info('stopping', { signal });
        running.close().then(resolve, (err: unknown) => {
          log.error('error while stopping', { error: err });
          resolve();
        });
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    return EXIT.ok;
  },
};

import { EXIT, UsageError, UserError, type Command } from './cli-support.ts';

/** Subcommands, imported only when used so `mitschnitt validate` never loads ssh2 or the runtime. */
const commands: Record<string, () => Promise<Command>> = {
  validate: async () => (await import('../generator/validate-command.ts')).validateCommand,
  build: async () => (await import('../generator/build-command.ts')).buildCommand,
  explain: async () => (await import('../generator/explain-command.ts')).explainCommand,
  plan: async () => (await import('../ci/plan-command.ts')).planCommand,
  deploy: async () => (await import('../ci/deploy-command.ts')).deployCommand,
  serve: async () => (await import('../runtime/serve-command.ts')).serveCommand,
  deliver: async () => (await import('../runtime/deliver-command.ts')).deliverCommand,
  expire: async () => (await import('../runtime/expire-command.ts')).expireCommand,
  capacity: async () => (await import('../runtime/capacity-command.ts')).capacityCommand,
  user: async () => (await import('../runtime/user-command.ts')).userCommand,
  audit: async () => (await import('../runtime/audit-command.ts')).auditCommand,
  hold: async () => (await import('../runtime/hold-command.ts')).holdCommand,
  verify: async () => (await import('../runtime/verify-command.ts')).verifyCommand,
  subject: async () => (await import('../runtime/subject-command.ts')).subjectCommand,
};

function help(): string {
  return [
    'mitschnitt — rule-driven call recording for Asterisk',
    '',
    'Usage: mitschnitt <command> [options]   (mitschnitt <command> --help for details; mitschnitt --version)',
    '',
    'Commands:',
    ...Object.keys(commands).map((name) => `  ${name}`),
    '',
    'Exit codes: 0 success, 1 invalid input or failed check, 2 usage error.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    console.log((await import('./version.ts')).VERSION);
    return EXIT.ok;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? EXIT.ok : EXIT.usage;
  }
  const load = commands[name];
  if (!load) {
    console.error(`mitschnitt: unknown command '${name}'\n\n${help()}`);
    return EXIT.usage;
  }
  const command = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${command.summary}\n\nUsage: ${command.usage}`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`mitschnitt ${name}: ${err.message}\nUsage: ${command.usage}`);
      return EXIT.usage;
    }
    if (err instanceof UserError) {
      console.error(`mitschnitt ${name}: ${err.message}`);
      return EXIT.invalid;
    }
    throw err;
  }
}

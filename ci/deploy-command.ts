import { BUNDLED_RULES, EXIT, UsageError, UserError, parseFlags, type Command } from '../bin/cli-support.ts';
import { buildAndSelect, COMMON_FLAGS, positiveInt, sshSetup } from './command-support.ts';
import { deployAll, DEFAULT_CRON_DIR, DEFAULT_SYSTEMD_DIR, type HostResult } from './deploy.ts';
import { checkGitState } from './git-state.ts';
import { ProgressView, summaryTable } from './progress.ts';
import { readLocalRelease } from './release-files.ts';

export const deployCommand: Command = {
  summary:
    'Build and deploy to the PBX hosts over SSH: lock, upload changed files, verify, swap atomically, reload Asterisk and verify, roll back on failure.',
  usage: [
    'mitschnitt deploy [--host NAME]... | [--all] [--rules DIR] [--out DIR] [--allow-dirty] [--parallel N] [--json]',
    '                  [--identity FILE] [--known-hosts FILE] [--lock-wait SECONDS] [--lock-lease MINUTES] [--force-unlock]',
    '                  [--reload] [--keep N] [--cron-dir DIR] [--systemd-dir DIR]',
    'Exit: 0 every host deployed or unchanged, 1 a host failed (or bad input), 2 usage error.',
  ].join('\n'),
  async run(argv) {
    const { values } = parseFlags(argv, {
      ...COMMON_FLAGS,
      'allow-dirty': { type: 'boolean' },
      'lock-wait': { type: 'string' },
      'lock-lease': { type: 'string' },
      'force-unlock': { type: 'boolean' },
      reload: { type: 'boolean' },
      keep: { type: 'string' },
      'cron-dir': { type: 'string' },
      'systemd-dir': { type: 'string' },
    });
    const parallel = positiveInt(values.parallel, '--parallel', 4);
    const lockWait = positiveInt(values['lock-wait'], '--lock-wait', 0, 0);
    const lockLease = positiveInt(values['lock-lease'], '--lock-lease', 30);
    const keep = positiveInt(values.keep, '--keep', 3, 2);
    if (values['force-unlock'] && values.host?.length !== 1) throw new UsageError('--force-unlock needs exactly one --host: break locks one host at a time');
    for (const flag of ['cron-dir', 'systemd-dir'] as const) {
      if (values[flag] !== undefined && !/^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/.test(values[flag]!)) throw new UsageError(`--${flag} needs an absolute path`);
    }
    const rulesDir = values.rules ?? BUNDLED_RULES;
    const outDir = values.out ?? 'out';

    if (!values['allow-dirty']) {
      const git = await checkGitState(rulesDir);
      if (git.problems.length) throw new UserError(`refusing to deploy: ${git.problems.join('; ')} (--allow-dirty deploys anyway)`);
    }
    const { auth, knownHosts } = sshSetup(values.identity, values['known-hosts']);
    const hosts = await buildAndSelect(rulesDir, outDir, values.host, values.all);
    const view = values.json ? null : new ProgressView(process.stderr, hosts.map((h) => h.name));
    const results: HostResult[] = await deployAll(
      hosts,
      (host) => readLocalRelease(outDir, host.name),
      {
        auth,
        knownHosts,
        lock: { waitSeconds: lockWait, leaseMinutes: lockLease, force: values['force-unlock'] === true },
        cronDir: values['cron-dir'] ?? DEFAULT_CRON_DIR,
        systemdDir: values['systemd-dir'] ?? DEFAULT_SYSTEMD_DIR,
        keepReleases: keep,
        forceReload: values.reload === true,
        onProgress: view ? (e) => view.update(e) : undefined,
      },
      parallel,
    );
    if (values.json) console.log(JSON.stringify({ hosts: results }, null, 2));
    else process.stdout.write(`\n${summaryTable(results)}`);
    return results.some((r) => r.status === 'failed') ? EXIT.invalid : EXIT.ok;
  },
};

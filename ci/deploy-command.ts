import { BUNDLED_RULES, EXIT, UsageError, UserError, parseFlags, type Command } from '../bin/cli-support.ts';
import { buildAndSelect, COMMON_FLAGS, DEFAULT_PARALLEL, positiveInt, sshSetup } from './command-support.ts';
import { deployAll, DEFAULT_CRON_DIR, DEFAULT_SYSTEMD_DIR, type HostResult } from './deploy.ts';
import { checkGitState } from './git-state.ts';
import { ProgressView, summaryTable } from './progress.ts';
import { readLocalRelease } from './release-files.ts';
import { BUILD_VERSION, readLocalPackage, type LocalPackage } from './host-package.ts';

export const deployCommand: Command = {
  summary:
    'Build and deploy to the PBX hosts over SSH: lock, upload changed files, verify, swap atomically, reload Asterisk and verify, roll back on failure.',
  usage: [
    'mitschnitt deploy [--host NAME]... | [--all] [--rules DIR] [--out DIR] [--allow-dirty] [--parallel N] [--json]',
    '                  [--identity FILE] [--known-hosts FILE] [--lock-wait SECONDS] [--lock-lease MINUTES] [--force-unlock]',
    '                  [--reload] [--keep N] [--cron-dir DIR] [--systemd-dir DIR] [--package FILE]',
    '       mitschnitt deploy --bootstrap --package mitschnitt_<version>_<arch>.deb [--host NAME]... | [--all] [...]',
    '       mitschnitt deploy --uninstall --host NAME... | --all [--identity FILE] [--known-hosts FILE] [--cron-dir DIR] [--systemd-dir DIR]',
    '--package FILE installs or upgrades mitschnitt on hosts that run another version than the build (without it, deploy refuses them).',
    '--bootstrap also sets up a new host: spool, the three #include lines, reloads, service enabled and started, a verified test call.',
    '--uninstall removes the #include lines (channelvars emptied), stops and disables the service, removes cron file, unit and',
    'releases; keeps recordings, journals, secrets and the package.',
    'Exit: 0 every host deployed, unchanged or uninstalled, 1 a host failed (or bad input), 2 usage error.',
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
      package: { type: 'string' },
      bootstrap: { type: 'boolean' },
      uninstall: { type: 'boolean' },
    });
    if (values.bootstrap && !values.package) throw new UsageError('--bootstrap needs --package mitschnitt_<version>_<arch>.deb (npm run package builds it)');
    if (values.uninstall && (values.bootstrap || values.package)) throw new UsageError('--uninstall cannot be combined with --bootstrap or --package');
    if (values.uninstall && !values.host?.length && !values.all) throw new UsageError('--uninstall needs --host NAME (or --all): it is never the default');
    const parallel = positiveInt(values.parallel, '--parallel', DEFAULT_PARALLEL);
    const lockWait = positiveInt(values['lock-wait'], '--lock-wait', 0, 0);
    const lockLease = positiveInt(values['lock-lease'], '--lock-lease', 30);
    const keep = positiveInt(values.keep, '--keep', 3, 2);
    if (values['force-unlock'] && values.host?.length !== 1) throw new UsageError('--force-unlock needs exactly one --host: break locks one host at a time');
    for (const flag of ['cron-dir', 'systemd-dir'] as const) {
      if (values[flag] !== undefined && !/^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/.test(values[flag]!)) throw new UsageError(`--${flag} needs an absolute path`);
    }
    const rulesDir = values.rules ?? BUNDLED_RULES;
    const outDir = values.out ?? 'out';

    let pkg: LocalPackage | undefined;
    if (values.package) {
      try {
        pkg = readLocalPackage(values.package);
      } catch (err) {
        throw new UserError((err as Error).message);
      }
      if (pkg.version !== BUILD_VERSION) throw new UserError(`${values.package} is mitschnitt ${pkg.version}, but this is mitschnitt ${BUILD_VERSION}: hosts must run the version that builds their rules`);
    }

    if (!values['allow-dirty'] && !values.uninstall) {
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
        package: pkg,
        mode: values.uninstall ? 'uninstall' : values.bootstrap ? 'bootstrap' : 'deploy',
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

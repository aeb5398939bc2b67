// `npm run package`: builds dist/mitschnitt_<version>_<arch>.deb, the program for a Debian 12 PBX.
//
// What is inside, and why a private Node runtime rather than a single executable application (SEA):
// - /usr/lib/mitschnitt/node: the Node.js 20 binary that runs this build, stripped (Debian 12 ships Node 18).
//   A SEA is the same binary plus one CommonJS bundle (Node 20's SEA loads no ESM and no files next to it), so it
//   is no smaller, and our templates, schemas, bundled rules, web assets and native addons (better-sqlite3) would
//   have to be re-packed as SEA assets; start-up is the same either way once the TypeScript is compiled (below).
//   Security updates: a Node security release means rebuilding this package with the patched Node (CI does it
//   with whatever `node` runs it) — the same with a SEA — and the binary sits alone in one place, easy to audit.
// - /usr/lib/mitschnitt/app: the sources compiled to JavaScript by tsc (no tsx and esbuild at run time, so a
//   command starts in ~0.1 s instead of transpiling on every start), with templates/, schema/, rules/ and the web
//   client's static files at the same relative places, and the production npm packages.
// - /usr/bin/mitschnitt: a three-line launcher (it answers --version itself). Maintainer scripts (ci/debian/postinst,
//   prerm, postrm) create the user and the spool and leave the recordings alone on purge.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import { PLAN_STATE_SCRIPT } from '../plan-state.ts';
import { quote } from '../shell.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));

/** npm packages needed only to run TypeScript from source: the package runs compiled JavaScript. */
const DEV_ONLY_AT_RUNTIME = new Set(['tsx', 'esbuild', 'get-tsconfig', 'resolve-pkg-maps']);
/** Data the compiled code reads through `new URL('…', import.meta.url)`: kept at the same place relative to it. */
const DATA_DIRS = ['rules', 'templates', 'schema', 'runtime/web/static'];

export interface PackageResult {
  file: string;
  version: string;
  arch: string;
  bytes: number;
  installedKiB: number;
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { cwd: options.cwd ?? REPO, env: options.env ?? process.env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? ' (not installed? see .ci/run)' : ''}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout).trim().split('\n').slice(0, 25).join('\n')}`);
  return r.stdout;
}

/** Debian's upstream-version characters; npm's `1.2.3-rc.1` becomes `1.2.3~rc.1` (sorts before the release). */
export function debianVersion(npmVersion: string): string {
  if (!/^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$/.test(npmVersion)) throw new Error(`package.json version '${npmVersion}' is not semver`);
  return npmVersion.replace('-', '~');
}

/** Production npm packages (as installed, hoisted) minus those only needed to run TypeScript directly. */
function productionPackages(): string[] {
  const out = run('npm', ['ls', '--omit=dev', '--all', '--parseable']);
  const nm = join(REPO, 'node_modules') + '/';
  return [...new Set(out.split('\n').filter((p) => p.startsWith(nm)).map((p) => p.slice(nm.length)))]
    .filter((name) => !DEV_ONLY_AT_RUNTIME.has(name) && !name.startsWith('@esbuild/'))
    .sort();
}

/**
 * Copies an npm package without what only its developers use: dotfiles (.npmignore, .eslintrc, …), type
 * declarations, source maps and markdown docs, command-line
 * scripts (a `#!` first line: library code never runs them), and for native addons everything but the loaded `.node`
 * files (sources, object files, test addons).
 */
function copyPackage(from: string, to: string): void {
  const native = existsSync(join(from, 'binding.gyp'));
  cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = relative(from, src);
      if (rel === '') return true;
      const base = rel.split('/').pop()!;
      if (rel.startsWith('node_modules') || base.startsWith('.')) return false; // nested packages are listed by npm ls on their own
      if (native && (rel === 'deps' || rel === 'src' || rel.startsWith('deps/') || rel.startsWith('src/'))) return false;
      const stat = statSync(src);
      if (stat.isDirectory()) return !['obj.target', 'obj', '.deps'].includes(base);
      // A node-gyp build folder (next to a binding.gyp) holds objects and makefiles besides the addon itself.
      const gypBuild = /^(.*?)\/?build\//.exec(rel);
      if (gypBuild && existsSync(join(from, gypBuild[1]!, 'binding.gyp')) && !rel.endsWith('.node')) return false;
      if (base.startsWith('test_') && base.endsWith('.node')) return false;
      if (/\.(d\.[cm]?ts|map|md|markdown)$/.test(base) && !/^licen[cs]e/i.test(base)) return false; // types, source maps, docs
      return !readFileSync(src).subarray(0, 2).equals(Buffer.from('#!'));
    },
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

/** dpkg-shlibdeps wants a source tree; a throw-away debian/control is enough to ask it about the binaries. */
function sharedLibraryDepends(root: string, binaries: string[]): string {
  const tmp = mkdtempSync(join(tmpdir(), 'mitschnitt-shlibs-'));
  try {
    mkdirSync(join(tmp, 'debian'));
    writeFileSync(join(tmp, 'debian/control'), 'Source: mitschnitt\n\nPackage: mitschnitt\nArchitecture: any\n');
    const out = run('dpkg-shlibdeps', ['-O', '--warnings=0', ...binaries.map((b) => `-e${join(root, b)}`)], { cwd: tmp });
    return /shlibs:Depends=(.*)/.exec(out)?.[1]?.trim() ?? '';
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function buildPackage(options: { outDir: string; compression?: 'xz' | 'gzip' | 'zstd' | 'none'; nodeBinary?: string }): PackageResult {
  const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string; license: string; description: string };
  const version = debianVersion(pkg.version);
  const arch = run('dpkg', ['--print-architecture']).trim();
  const nodeBinary = options.nodeBinary ?? process.execPath;
  const nodeVersion = run(nodeBinary, ['--version']).trim();
  if (!/^v2[0-9]\./.test(nodeVersion)) throw new Error(`the package needs Node.js 20 or newer to embed; ${nodeBinary} is ${nodeVersion}`);

  const stage = mkdtempSync(join(tmpdir(), 'mitschnitt-package-'));
  const root = join(stage, 'root');
  const lib = join(root, 'usr/lib/mitschnitt');
  const app = join(lib, 'app');
  try {
    // 1. The sources, compiled; relative imports rewritten from .ts to .js (tsc's rewriteRelativeImportExtensions).
    //    Type checking is CI's `tsc --noEmit` (--noCheck also halves the time on 2 cores).
    run(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(HERE, 'tsconfig.json'), '--noCheck', '--outDir', app]);
    for (const d of DATA_DIRS) cpSync(join(REPO, d), join(app, d), { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'mitschnitt', version: pkg.version, type: 'module', private: true, license: pkg.license }, null, 2) + '\n');
    writeFileSync(join(app, 'bin/main.js'), "import { main } from './cli.js';\n\nprocess.exitCode = await main(process.argv.slice(2));\n");
    for (const name of productionPackages()) copyPackage(join(REPO, 'node_modules', name), join(app, 'node_modules', name));
    for (const addon of walk(app).filter((f) => f.endsWith('.node'))) run('strip', ['--strip-unneeded', addon]);

    // 2. The runtime: stripped (debug symbols are 12 MB of the 98 MB), with its licence.
    run('strip', ['--strip-all', '-o', join(lib, 'node'), nodeBinary]);
    chmodSync(join(lib, 'node'), 0o755);
    const nodeLicence = ['/usr/share/doc/nodejs/LICENSE', join(dirname(nodeBinary), '../share/doc/node/LICENSE'), join(dirname(nodeBinary), '../LICENSE')].find(existsSync);
    writeFileSync(join(lib, 'LICENSE.node'), nodeLicence ? readFileSync(nodeLicence) : `Node.js ${nodeVersion} is released under the MIT licence: https://github.com/nodejs/node/blob/${nodeVersion}/LICENSE\n`);
    writeFileSync(join(lib, 'VERSION'), `${version}\n`);
    // What a plan-only SSH key is pinned to (README: two keys): the same script plan sends with the deploy key.
    writeFileSync(join(lib, 'plan-state'), PLAN_STATE_SCRIPT, { mode: 0o755 });

    // 3. The launcher, the unit, docs.
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    // Every deploy and plan asks the host's `mitschnitt --version` (version pinning): the launcher answers it itself
    // rather than start Node for it (~0.1 s of the PBX's CPU each time). Same source as the program's answer.
    const launcher = ['#!/bin/sh', `case "$1" in --version|-V) echo ${quote(pkg.version)}; exit 0;; esac`, 'exec /usr/lib/mitschnitt/node /usr/lib/mitschnitt/app/bin/main.js "$@"'];
    writeFileSync(join(root, 'usr/bin/mitschnitt'), launcher.join('\n') + '\n', { mode: 0o755 });
    mkdirSync(join(root, 'lib/systemd/system'), { recursive: true });
    copyFileSync(join(HERE, 'mitschnitt.service'), join(root, 'lib/systemd/system/mitschnitt.service'));
    const doc = join(root, 'usr/share/doc/mitschnitt');
    mkdirSync(doc, { recursive: true });
    copyFileSync(join(HERE, 'copyright'), join(doc, 'copyright'));
    const date = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000)) * 1000).toUTCString().replace('GMT', '+0000');
    const changelog = `mitschnitt (${version}) unstable; urgency=medium\n\n  * Built from the mitschnitt repository (see its git log).\n\n -- mitschnitt maintainers <maintainers@mitschnitt.example.org>  ${date}\n`;
    writeFileSync(join(doc, 'changelog.gz'), gzipSync(changelog, { level: 9 }));
    mkdirSync(join(root, 'usr/share/man/man1'), { recursive: true });
    writeFileSync(join(root, 'usr/share/man/man1/mitschnitt.1.gz'), gzipSync(readFileSync(join(HERE, 'mitschnitt.1')), { level: 9 }));
    mkdirSync(join(root, 'usr/share/lintian/overrides'), { recursive: true });
    copyFileSync(join(HERE, 'lintian-overrides'), join(root, 'usr/share/lintian/overrides/mitschnitt'));

    // 4. Modes as Debian wants them: directories 0755, files 0644, programs and the native addons' loader 0755.
    for (const file of walk(root)) {
      const executable = (statSync(file).mode & 0o100) !== 0 && !file.endsWith('.node') && !file.endsWith('.js');
      chmodSync(file, executable ? 0o755 : 0o644);
    }
    run('find', [root, '-type', 'd', '-exec', 'chmod', '0755', '{}', '+']);

    // 5. The compiled program must start from the staged tree before it is packed, and every command must load
    //    (`<command> --help` imports its module: a dependency missing from the package shows here, not on a PBX).
    const staged = (...args: string[]) => run(join(lib, 'node'), [join(app, 'bin/main.js'), ...args], { cwd: stage });
    const said = staged('--version').trim();
    if (said !== pkg.version) throw new Error(`the staged program says '${said}' for --version, not ${pkg.version}`);
    const commands = /^Commands:\n((?:  \S+\n)+)/m.exec(staged('--help'))?.[1]?.trim().split(/\s+/) ?? [];
    if (commands.length < 5) throw new Error('the staged program lists no commands in --help');
    for (const command of commands) staged(command, '--help');

    // 6. Control area.
    const control = join(root, 'DEBIAN');
    mkdirSync(control);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      copyFileSync(join(HERE, script), join(control, script));
      chmodSync(join(control, script), 0o755);
    }
    const natives = walk(app).filter((f) => f.endsWith('.node')).map((f) => relative(root, f));
    const depends = [sharedLibraryDepends(root, ['usr/lib/mitschnitt/node', ...natives]), 'adduser', 'acl'].filter(Boolean).join(', ');
    const installedKiB = Math.ceil(walk(root).filter((f) => !f.includes('/DEBIAN/')).reduce((n, f) => n + statSync(f).size, 0) / 1024);
    writeFileSync(
      join(control, 'control'),
      [
        'Package: mitschnitt',
        `Version: ${version}`,
        `Architecture: ${arch}`,
        'Maintainer: mitschnitt maintainers <maintainers@mitschnitt.example.org>',
        `Installed-Size: ${installedKiB}`,
        `Depends: ${depends}`,
        'Recommends: cron',
        'Section: comm',
        'Priority: optional',
        'Homepage: https://mitschnitt.invalid/',
        'Description: rule-driven call recording for the Asterisk PBX',
        ' mitschnitt compiles recording rules kept in git into Asterisk',
        ' configuration and runs the service next to Asterisk that journals',
        ' recordings, lets people start and stop them with a SNOM key or the web',
        ' client, delivers them by e-mail or script and deletes them after their',
        ' retention period.',
        ' .',
        ' This package carries its own Node.js runtime (Debian 12 ships Node.js 18).',
        '',
      ].join('\n'),
    );
    const md5 = walk(root)
      .filter((f) => !f.includes('/DEBIAN/'))
      .map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(root, f)}\n`)
      .sort((a, b) => a.slice(34).localeCompare(b.slice(34)))
      .join('');
    writeFileSync(join(control, 'md5sums'), md5, { mode: 0o644 });

    mkdirSync(options.outDir, { recursive: true });
    const file = join(options.outDir, `mitschnitt_${version}_${arch}.deb`);
    const compression = options.compression ?? 'xz';
    run('dpkg-deb', ['--root-owner-group', `-Z${compression}`, ...(compression === 'xz' ? ['-z6', '--threads-max=0'] : []), '--build', root, file]);
    return { file, version, arch, bytes: statSync(file).size, installedKiB };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let values;
  try {
    ({ values } = parseArgs({ options: { 'out-dir': { type: 'string' }, compression: { type: 'string' } }, strict: true }));
  } catch (err) {
    console.error(`npm run package: ${(err as Error).message}\nUsage: npm run package [-- --out-dir DIR] [--compression xz|gzip|zstd|none]`);
    process.exit(2);
  }
  const compression = values.compression ?? 'xz';
  if (!['xz', 'gzip', 'zstd', 'none'].includes(compression)) {
    console.error(`npm run package: --compression must be xz, gzip, zstd or none, not '${compression}'`);
    process.exit(2);
  }
  try {
    const started = Date.now();
    const r = buildPackage({ outDir: values['out-dir'] ?? join(REPO, 'dist'), compression: compression as 'xz' });
    console.log(`${r.file}: ${(r.bytes / 1e6).toFixed(1)} MB (installed ${(r.installedKiB / 1024).toFixed(0)} MiB), built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (err) {
    console.error(`npm run package: ${(err as Error).message}`);
    process.exit(1);
  }
}

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CronExpressionParser } from 'cron-parser';
import { checkedSchedule, renderCron } from '../../generator/render-cron.ts';
import { cronEscape, UnsafeValueError } from '../../generator/host-file-template.ts';
import { assertGolden, renderBundled } from '../fixtures/golden-host-files/golden.ts';
import { sampleHost, samplePolicy, type SampleOptions } from './snom-sample-policy.ts';

interface Job { schedule: string; user: string; command: string }

/** How cron reads an /etc/cron.d file: comments, NAME=value lines, and jobs of 5 time fields, a user and the command. */
function parseCronD(text: string): { env: Record<string, string>; jobs: Job[] } {
  assert.ok(text.endsWith('\n'), 'cron ignores a last line without a newline');
  const env: Record<string, string> = {};
  const jobs: Job[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (assignment) {
      env[assignment[1]!] = assignment[2]!;
      continue;
    }
    const fields = line.split(/\s+/);
    jobs.push({ schedule: fields.slice(0, 5).join(' '), user: fields[5]!, command: fields.slice(6).join(' ') });
  }
  return { env, jobs };
}

function render(options: SampleOptions = {}, dir = '/etc/mitschnitt') {
  const [file] = renderCron({ ruleSet: undefined as never, policy: samplePolicy(options), host: sampleHost({ dir }) });
  assert.is(file!.path, 'cron/mitschnitt');
  return parseCronD(String(file!.content));
}

/** The next runs after a fixed instant, as cron-parser computes them for a schedule. */
function nextRuns(schedule: string, count: number): string[] {
  const expression = CronExpressionParser.parse(schedule, { currentDate: new Date('2026-11-25T12:07:00Z'), tz: 'UTC' });
  return expression.take(count).map((d) => String(d.toISOString()));
}

test('exactly three jobs, all as the mitschnitt user, with PATH set and mail off', () => {
  const { env, jobs } = render();
  assert.is(jobs.length, 3);
  assert.ok(jobs.every((j) => j.user === 'mitschnitt'));
  assert.match(env.PATH!, /(^|:)\/usr\/local\/bin(:|$)/);
  assert.is(env.MAILTO, '""');
  assert.is(env.SHELL, '/bin/sh');
});

test('the delivery batch runs at settings.deliverySchedule with the deployed config', () => {
  const [deliver] = render({ deliverySchedule: '*/15 7-18 * * 1-5' }).jobs;
  assert.is(deliver!.schedule, '*/15 7-18 * * 1-5');
  assert.equal(nextRuns(deliver!.schedule, 3), ['2026-11-25T12:15:00.000Z', '2026-11-25T12:30:00.000Z', '2026-11-25T12:45:00.000Z']);
  assert.is(deliver!.command, 'mitschnitt deliver --config /etc/mitschnitt/current 2>&1 | logger -t mitschnitt-deliver');
});

test('the retention sweep runs at settings.retentionSchedule', () => {
  const [, expire] = render().jobs;
  assert.is(expire!.schedule, '30 3 * * *');
  assert.equal(nextRuns(expire!.schedule, 2), ['2026-11-26T03:30:00.000Z', '2026-11-27T03:30:00.000Z']);
  assert.is(expire!.command, 'mitschnitt expire --config /etc/mitschnitt/current 2>&1 | logger -t mitschnitt-expire');
});

test('the integrity check runs at settings.verifySchedule (default 04:15); --mail only with adminEmail and smtp', () => {
  const [, , verify] = render().jobs;
  assert.is(verify!.schedule, '15 4 * * *');
  assert.is(verify!.command, 'mitschnitt verify --config /etc/mitschnitt/current 2>&1 | logger -t mitschnitt-verify');
  const policy = samplePolicy();
  policy.settings.verifySchedule = '0 5 * * 1-5';
  policy.settings.adminEmail = ['it@example.com'];
  const withoutSmtp = parseCronD(String(renderCron({ ruleSet: undefined as never, policy, host: sampleHost({}) })[0]!.content)).jobs[2]!;
  assert.is(withoutSmtp.command, 'mitschnitt verify --config /etc/mitschnitt/current 2>&1 | logger -t mitschnitt-verify');
  policy.settings.smtp = { host: 'mail.example.com', port: 587, security: 'starttls', maxAttachmentMB: 20, language: 'de', from: 'm@example.com' };
  const mailing = parseCronD(String(renderCron({ ruleSet: undefined as never, policy, host: sampleHost({}) })[0]!.content)).jobs[2]!;
  assert.is(mailing.schedule, '0 5 * * 1-5');
  assert.is(mailing.command, 'mitschnitt verify --config /etc/mitschnitt/current --mail 2>&1 | logger -t mitschnitt-verify');
  policy.settings.verifySchedule = '0 5 * * *\n* * * * * root id';
  assert.throws(() => renderCron({ ruleSet: undefined as never, policy, host: sampleHost({}) }), (e: unknown) => e instanceof UnsafeValueError);
});

test("the config dir follows the host's dir", () => {
  const { jobs } = render({}, '/opt/mitschnitt/');
  assert.ok(jobs.every((j) => j.command.includes('--config /opt/mitschnitt/current ')), JSON.stringify(jobs));
});

test('schedules that could add a line, feed stdin or break cron are refused', () => {
  for (const bad of ['0 20 * * *\n* * * * * root rm -rf /', '0 20 * * * %', '0 20 * * * *', '@reboot', '0 20 * * ', '0 20 L * *', '61 * * * *', '0 20 * * *\r']) {
    assert.throws(() => checkedSchedule('deliverySchedule', bad), (e: unknown) => e instanceof UnsafeValueError, JSON.stringify(bad));
    assert.throws(() => render({ deliverySchedule: bad }), (e: unknown) => e instanceof UnsafeValueError, JSON.stringify(bad));
  }
});

test('a config path that could end the line or feed stdin is refused too', () => {
  for (const dir of ['/etc/mit%schnitt', '/etc/mitschnitt\n* * * * * root id']) {
    assert.throws(() => render({}, dir), (e: unknown) => e instanceof UnsafeValueError, JSON.stringify(dir));
  }
  assert.throws(() => cronEscape('x\ty'), (e: unknown) => e instanceof UnsafeValueError);
});

test('valid cron.d syntax passes unchanged, names included', () => {
  for (const ok of ['0 20 * * *', '*/15 * * * *', '0 8-18/2 * * 1-5', '5 4 1,15 jan *', '0 0 * * sun']) assert.is(checkedSchedule('x', ok), ok);
});

test('the bundled example matches its golden cron file', () => {
  assertGolden(renderBundled(renderCron));
});

test.run();

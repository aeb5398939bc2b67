import type { Policy } from './policy.ts';
import type { Host, RuleSet } from './rule-set.ts';
import { renderPolicyFile } from './render-policy-file.ts';
import { copyScripts } from './copy-scripts.ts';
import { renderSnom } from './render-snom.ts';
import { renderCron } from './render-cron.ts';
import { renderManager } from './render-manager.ts';
import { renderFeatures } from './render-features.ts';
import { renderSystemd } from './render-systemd.ts';
import { renderDialplan } from './render-dialplan.ts';

/** One generated file, path relative to out/<host>/. */
export interface GeneratedFile {
  path: string;
  content: string | Buffer;
  /** File mode to install with (default 0o644). */
  mode?: number;
}

export interface RenderInput {
  ruleSet: RuleSet;
  policy: Policy;
  host: Host;
}

export type Renderer = (input: RenderInput) => GeneratedFile[];

/** Every generated file of a host, in the order of this list; each renderer lives in its own render-*.ts. */
export const renderers: Renderer[] = [renderPolicyFile, copyScripts, renderSnom, renderCron, renderManager, renderFeatures, renderSystemd, renderDialplan];

export function renderHostFiles(input: RenderInput): GeneratedFile[] {
  return renderers.flatMap((render) => render(input)).sort((a, b) => a.path.localeCompare(b.path));
}

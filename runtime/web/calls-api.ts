import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlResult } from '../call-control.ts';
import type { Route } from '../http-server.ts';
import type { AuditAction } from './audit-log.ts';
import { BadRequest, clientIp, readJsonBody, sendError, sendJson } from './http-util.ts';
import { api, signedIn, type WebContext } from './web-context.ts';

const CALL_ID = /^[0-9A-Za-z._-]{1,128}$/;
const ACTIONS = { start: 'record-start', stop: 'record-stop', pause: 'record-pause', resume: 'record-resume' } as const satisfies Record<
  string,
  AuditAction
>;
type Action = keyof typeof ACTIONS;

const STATUS: Record<Extract<ControlResult, { ok: false }>['reason'], number> = { 'no-call': 404, 'not-allowed': 403, 'ami-error': 502 };

async function record(ctx: WebContext, req: IncomingMessage, res: ServerResponse, callId: string): Promise<void> {
  const signed = signedIn(ctx, req, res, true);
  if (!signed) return;
  const body = await readJsonBody(req);
  const action = body.action;
  if (typeof action !== 'string' || !Object.hasOwn(ACTIONS, action)) throw new BadRequest('action must be start, stop, pause or resume');
  const user = signed.viewer.userId;
  const audit = (result: string) => ctx.audit.append({ user, action: ACTIONS[action as Action], call: callId.slice(0, 128), ip: clientIp(req), result });
  // Only the user's own current calls: the same answer for someone else's call as for no call at all.
  const call = CALL_ID.test(callId) ? ctx.calls.activeCalls(user).find((c) => c.id === callId) : undefined;
  if (!call) {
    await audit('no-call');
    return sendError(res, 404, 'no-call', 'No such call.');
  }
  if (!call.manualAllowed) {
    await audit('not-allowed');
    return sendError(res, 403, 'not-allowed', 'Manual recording is not allowed for this call.');
  }
  let result: ControlResult;
  switch (action as Action) {
    case 'start':
      result = await ctx.calls.startRecording(user, callId);
      break;
    case 'stop':
      result = await ctx.calls.stopRecording(user, callId);
      break;
    case 'pause':
      result = await ctx.calls.setPaused(user, callId, true);
      break;
    case 'resume':
      result = await ctx.calls.setPaused(user, callId, false);
      break;
  }
  await audit(result.ok ? 'ok' : result.reason);
  if (result.ok) return sendJson(res, 200, { recording: result.recording, paused: result.paused });
  if (result.reason === 'ami-error') ctx.log.warn('manual recording failed', { user, call: callId, action, error: result.message });
  sendError(res, STATUS[result.reason], result.reason, result.message);
}

export function callRoutes(ctx: WebContext): Route[] {
  return [
    {
      method: 'GET',
      path: '/api/calls',
      handler: api((req, res) => {
        const signed = signedIn(ctx, req, res, false);
        if (signed) sendJson(res, 200, { calls: ctx.calls.activeCalls(signed.viewer.userId) });
      }),
    },
    { method: 'POST', path: /^\/api\/calls\/([^/]+)\/record$/, handler: api((req, res, [id]) => record(ctx, req, res, id)) },
  ];
}

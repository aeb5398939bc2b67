import type { Policy } from '../../generator/policy.ts';
import type { PartySummary, RecordingSummary } from './recording-summary.ts';

/** Who is asking, with everything their view rights expand to (computed once per request from the policy). */
export interface Viewer {
  userId: string;
  name: string;
  ext: string;
  mayRecordManually: boolean;
  /** Their own id plus the users they may view (roles' canView). */
  users: ReadonlySet<string>;
  /** Their own extension, the extensions of the users they may view, and the team numbers they may view. */
  numbers: ReadonlySet<string>;
}

export function viewerFor(policy: Policy, userId: string): Viewer | undefined {
  const user = Object.hasOwn(policy.users, userId) ? policy.users[userId] : undefined;
  if (!user) return undefined;
  const users = new Set([user.id, ...user.canViewUsers]);
  const numbers = new Set([user.ext, ...user.canViewNumbers]);
  // A journal party may carry only a number (e.g. a recovered recording): a viewable user's extension counts too.
  for (const id of user.canViewUsers) if (Object.hasOwn(policy.users, id)) numbers.add(policy.users[id].ext);
  return { userId: user.id, name: user.name, ext: user.ext, mayRecordManually: user.mayRecordManually, users, numbers };
}

/**
 * THE authorisation check for recordings: every list entry, every play and every download goes through it.
 * A user sees a recording when one of its parties is themselves or someone/some number they were given view rights over.
 */
export function canView(viewer: Viewer, recording: RecordingSummary): boolean {
  return recording.partyUsers.some((u) => viewer.users.has(u)) || recording.partyNumbers.some((n) => viewer.numbers.has(n));
}

/** Whether a party is the viewer themselves (for "other party" and the direction as the viewer saw the call). */
export function isSelf(viewer: Viewer, party: PartySummary): boolean {
  return party.userId === viewer.userId || (!party.userId && party.number === viewer.ext);
}

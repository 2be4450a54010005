// /msp/acceptEULA.php: completes the caller's registration (reference §3, registration flow).
import { unrecognized } from './codes.js';
import type { Reply, RequestContext } from './context.js';
import { touch } from './users.js';
import { genericReturn } from './xml.js';

export function handleAcceptEula(ctx: RequestContext): Reply {
  const extra = [...ctx.params.keys()];
  if (extra.length > 0) {
    const failure = unrecognized(extra);
    return { status: 200, body: genericReturn(ctx.stamp, 'FAILED', failure.code, failure.message) };
  }
  if (ctx.caller.status === 'Pending Activation') {
    ctx.caller.status = 'Active';
    touch(ctx.caller);
    ctx.changed();
  }
  return { status: 200, body: genericReturn(ctx.stamp, 'SUCCESS', undefined, 'TNC accepted within MSP') };
}

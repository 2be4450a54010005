// The workflow's object must be built in or declared in skein.yaml.
import { allowedList, didYouMean } from '../did-you-mean.js';
import type { WorkflowRule } from '../context.js';

export const checkObject: WorkflowRule = (ctx) => {
  if (ctx.object) return;
  const names = [...ctx.project.objects.keys()];
  ctx.error('unknown-object', `unknown object "${ctx.wf.object}"${didYouMean(ctx.wf.object, names)}; objects: ${allowedList(names)} (declare others under objects: in skein.yaml)`, ['object']);
};

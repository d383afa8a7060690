import { util } from '@aws-appsync/utils';

// ctx.source is the task whose estimate is asked for
export function request(ctx) {
  return { operation: 'Invoke', payload: { title: ctx.source.title } };
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.result;
}

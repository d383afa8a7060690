import { util } from '@aws-appsync/utils';
import { put } from '@aws-appsync/utils/dynamodb';

export function request(ctx) {
  const title = ctx.args.title.trim();
  if (title === '') {
    util.error('a task needs a title', 'BadRequest');
  }
  const item = { title, createdAt: util.time.nowISO8601() };
  return put({ key: { id: util.autoId() }, item });
}

export function response(ctx) {
  if (ctx.error) {
    util.error(ctx.error.message, ctx.error.type);
  }
  return ctx.result;
}

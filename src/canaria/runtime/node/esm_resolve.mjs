// ES module resolution hook: ES modules ignore NODE_PATH, so a bare import the function does
// not ship itself (`import { S3Client } from '@aws-sdk/client-s3'`) is looked up in the SDK
// that Lambda provides to the runtime, as Lambda's own Node.js runtimes do.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

let parentURL;

export function initialize(data) {
  parentURL = pathToFileURL(path.join(data.sdkPath, 'index.js')).href;
}

const bare = (s) => !s.startsWith('.') && !s.startsWith('/') && !s.startsWith('node:') && !/^[a-z]+:/.test(s);

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (parentURL && err && err.code === 'ERR_MODULE_NOT_FOUND' && bare(specifier)) {
      return next(specifier, { ...context, parentURL });
    }
    throw err;
  }
}

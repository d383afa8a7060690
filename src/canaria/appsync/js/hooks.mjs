// Module resolution for resolver code (Node.js customization hooks, registered by the
// evaluator). AppSync runs a resolver's code as one file whose imports are its own modules:
// here @aws-appsync/utils and @aws-appsync/utils/dynamodb resolve to canaria's versions, and
// any other import of the resolver's code is refused with a message saying why. Imports of
// canaria's own files pass through.

let codeDir = null;
let served = {};

export function initialize(data) {
  codeDir = data.codeDir;
  served = data.served;
}

function refused(specifier) {
  let message;
  if (specifier.startsWith('@aws-appsync/utils/')) {
    message =
      `canaria does not serve ${specifier}: of AppSync's built-in modules it serves ` +
      '@aws-appsync/utils and @aws-appsync/utils/dynamodb';
  } else {
    message =
      `AppSync resolver code is a single file whose only imports are @aws-appsync/utils and ` +
      `its built-in modules, so ${JSON.stringify(specifier)} cannot be imported: bundle it ` +
      'into the resolver code (e.g. esbuild --bundle --format=esm ' +
      '--external:@aws-appsync/utils)';
  }
  const err = new Error(message);
  err.code = 'CANARIA_IMPORT_REFUSED';
  return err;
}

export async function resolve(specifier, context, nextResolve) {
  const parent = context.parentURL;
  if (codeDir === null || parent === undefined || !parent.startsWith(codeDir)) {
    return nextResolve(specifier, context);
  }
  if (Object.hasOwn(served, specifier)) return { url: served[specifier], shortCircuit: true };
  throw refused(specifier);
}

'use strict';
// Loaded into every Node.js function (NODE_OPTIONS=--require): make the AWS SDK Lambda
// provides behave here as it does on Lambda, with no change to the function's code.
//
// - AWS SDK for JavaScript v2 (`aws-sdk`) ignores AWS_ENDPOINT_URL: every client it creates
//   is pointed at AWS_ENDPOINT_URL_<SERVICE> when set (the service id upper-cased, spaces as
//   underscores: DYNAMODB, SECRETS_MANAGER, ...), else at AWS_ENDPOINT_URL. An endpoint the
//   code passes itself wins. (v3 reads those variables itself.)
// - AWS_DISABLE_HOST_PREFIX_INJECTION=true (which botocore honours) is honoured by v3 too: an
//   operation with a host prefix (Step Functions' StartSyncExecution: "sync-") keeps the
//   endpoint's host, which locally is an address no prefix can be put in front of.
// - Lambda's nodejs16.x and earlier provide only v2, nodejs18.x and later only v3: the other
//   generation is hidden unless the function ships it in its own node_modules.
// - An API Gateway Management API client (PostToConnection, GetConnection, DeleteConnection)
//   given an API's AWS endpoint, as functions build it from their event
//   (https://<api id>.execute-api.<region>.amazonaws.com/<stage>, with or without the
//   scheme), calls AWS_ENDPOINT_URL instead: the endpoint's path kept, signed for the host
//   it reaches, with an x-canaria-api-id header naming the API. Any other endpoint is kept.
const Module = require('module');
const path = require('path');

const SDKS = (process.env.CANARIA_SDK_PATH || '').split(path.delimiter).filter(Boolean);
const major = /^AWS_Lambda_nodejs(\d+)\.(?:x|\d+)$/.exec(process.env.AWS_EXECUTION_ENV || '');
const HIDDEN = major ? (Number(major[1]) <= 16 ? /^@aws-sdk\// : /^aws-sdk(\/|$)/) : null;

function endpointFor(serviceId) {
  if (serviceId) {
    const own = process.env['AWS_ENDPOINT_URL_' + String(serviceId).replace(/[ -]/g, '_').toUpperCase()];
    if (own) return own;
  }
  return process.env.AWS_ENDPOINT_URL || undefined;
}

// An API's own host on AWS, whose first label is the API's id.
const EXECUTE_API = /^([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;
const MANAGEMENT_API = 'ApiGatewayManagementApi';
const API_ID_HEADER = 'x-canaria-api-id';

// {apiId, edge (a URL)} when ``hostname`` names an API on AWS and AWS_ENDPOINT_URL is set.
function edgeFor(hostname) {
  const m = EXECUTE_API.exec(String(hostname || '').toLowerCase());
  if (!m || !process.env.AWS_ENDPOINT_URL) return null;
  try {
    return { apiId: m[1], edge: new URL(process.env.AWS_ENDPOINT_URL) };
  } catch (_e) {
    return null;
  }
}

function serviceIdOf(api) {
  return api && (api.serviceId || (api.metadata && api.metadata.serviceId));
}

const patched = new WeakSet();
function patchV2(AWS) {
  if (!AWS || typeof AWS.Service !== 'function' || patched.has(AWS.Service)) return;
  patched.add(AWS.Service);
  const initialize = AWS.Service.prototype.initialize;
  AWS.Service.prototype.initialize = function (config) {
    const api = this.api || {};
    const url = endpointFor(api.serviceId || (api.metadata && api.metadata.serviceId));
    const own = config && config.endpoint;
    const global = AWS.config && AWS.config[this.serviceIdentifier] && AWS.config[this.serviceIdentifier].endpoint;
    if (url && !own && !global && !(AWS.config && AWS.config.endpoint)) {
      config = Object.assign({}, config, { endpoint: url });
      if (this.serviceIdentifier === 's3' && config.s3ForcePathStyle === undefined) config.s3ForcePathStyle = true;
    }
    const result = initialize.call(this, config);
    if (serviceIdOf(this.api) === MANAGEMENT_API) managementApiV2(this);
    return result;
  };
}

// v2 signs for the host of the service's endpoint (its Host header is endpoint.host), so
// the endpoint itself is replaced, path kept; each request then carries the API's id.
function managementApiV2(service) {
  const endpoint = service.endpoint;
  const found = endpoint && edgeFor(endpoint.hostname);
  if (!found) return;
  const url = found.edge.origin + (endpoint.pathname || '');
  service.config.endpoint = url;
  service.setEndpoint(url);
  const setup = service.setupRequestListeners;
  service.setupRequestListeners = function (request) {
    setup.apply(this, arguments);
    request.on('afterBuild', (req) => {
      req.httpRequest.headers[API_ID_HEADER] = found.apiId;
    });
  };
}

// v3 resolves the endpoint per request; its signer (finalizeRequest step) signs the Host
// header that hostHeaderMiddleware (build step, low priority) sets from the request's
// hostname and port unless already set. So this runs first in the build step and sets both.
function managementApiV3(next) {
  return (args) => {
    const request = args.request;
    const found = request && request.headers && edgeFor(request.hostname);
    if (found) {
      const { edge, apiId } = found;
      request.protocol = edge.protocol;
      request.hostname = edge.hostname;
      request.port = edge.port ? Number(edge.port) : undefined;
      for (const name of Object.keys(request.headers)) {
        if (name.toLowerCase() === 'host') delete request.headers[name];
      }
      request.headers.host = edge.host;
      request.headers[API_ID_HEADER] = apiId;
    }
    return next(args);
  };
}
const MANAGEMENT_API_V3 = { name: 'canariaManagementApiEndpoint', step: 'build', priority: 'high' };

const NO_HOST_PREFIX = String(process.env.AWS_DISABLE_HOST_PREFIX_INJECTION).toLowerCase() === 'true';

const prepared = new WeakSet(); // clients whose first call has been made
function patchV3(exported) {
  const Client = exported && exported.Client;
  if (typeof Client !== 'function' || patched.has(Client)) return;
  patched.add(Client);
  const send = Client.prototype.send;
  Client.prototype.send = function () {
    const config = this.config;
    if (config) {
      if (NO_HOST_PREFIX && config.disableHostPrefix !== true) config.disableHostPrefix = true;
      if (!prepared.has(this)) {
        prepared.add(this);
        if (config.serviceId === MANAGEMENT_API && this.middlewareStack) {
          this.middlewareStack.add(managementApiV3, MANAGEMENT_API_V3);
        }
      }
    }
    return send.apply(this, arguments);
  };
}

const load = Module._load;
Module._load = function (request, parent, isMain) {
  const exported = load.apply(this, arguments);
  if (request === '@smithy/core/client' || request === '@smithy/smithy-client') patchV3(exported);
  if (typeof request === 'string' && (request === 'aws-sdk' || request.startsWith('aws-sdk/'))) {
    try {
      patchV2(load.call(this, 'aws-sdk/lib/core', parent, false));
    } catch (_e) {
      // not the SDK we know: leave it alone
    }
  }
  return exported;
};

if (SDKS.length && HIDDEN) {
  const inside = (file) => typeof file === 'string' && SDKS.some((dir) => file.startsWith(dir + path.sep));
  const resolveFilename = Module._resolveFilename;
  Module._resolveFilename = function (request, parent) {
    const file = resolveFilename.apply(this, arguments);
    if (HIDDEN.test(request) && inside(file) && !(parent && inside(parent.filename))) {
      const err = new Error(`Cannot find module '${request}'`);
      err.code = 'MODULE_NOT_FOUND';
      throw err;
    }
    return file;
  };
}

// require('/opt/...') is the file in the function's layers, as Lambda extracts them in /opt:
// the last layer that has it (CANARIA_LAYERS lists them in order)
const LAYERS = (process.env.CANARIA_LAYERS || '').split(path.delimiter).filter(Boolean).reverse();
if (LAYERS.length) {
  const resolveInOpt = Module._resolveFilename;
  Module._resolveFilename = function (request, parent, ...rest) {
    if (typeof request === 'string' && request.startsWith('/opt/')) {
      const tail = request.slice('/opt/'.length);
      for (const layer of LAYERS) {
        const candidate = path.join(layer, tail);
        if (!candidate.startsWith(layer + path.sep)) continue;
        try {
          return resolveInOpt.call(this, candidate, parent, ...rest);
        } catch (_e) {
          // not in this layer: the next
        }
      }
    }
    return resolveInOpt.call(this, request, parent, ...rest);
  };
}

'use strict';
// Lambda's response streaming API for Node.js handlers, buffered.
//
// `awslambda.streamifyResponse(handler)` marks a handler that writes its response to a
// stream, `awslambda.HttpResponseStream.from(stream, {statusCode, headers, cookies})` gives
// that response HTTP metadata. Lambda's runtime provides the `awslambda` global; canaria's
// does too, so such a module loads and runs unchanged. canaria hands the handler a stream
// that collects what it writes and answers once the stream ends, as Lambda answers an
// `Invoke` (rather than `InvokeWithResponseStream`) of such a function: the bytes written,
// or, with HTTP metadata, the proxy response an API route maps (statusCode, headers,
// cookies, the body, base64 when it is not UTF-8 text).
const { Writable } = require('stream');

const STREAMING = Symbol('canaria.streamifyResponse');

class ResponseStream extends Writable {
  constructor() {
    super();
    this.chunks = [];
    this.metadata = null;
    this.contentType = null;
  }

  _write(chunk, encoding, callback) {
    this.chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding));
    callback();
  }

  setContentType(contentType) {
    this.contentType = contentType;
  }

  // the invocation's answer: raw bytes, or a proxy response object with HTTP metadata
  answer() {
    const body = Buffer.concat(this.chunks);
    if (this.metadata === null) return { raw: body };
    const response = { statusCode: this.metadata.statusCode || 200 };
    if (this.metadata.headers) response.headers = this.metadata.headers;
    if (this.metadata.cookies) response.cookies = this.metadata.cookies;
    const text = body.toString('utf8');
    if (Buffer.from(text, 'utf8').equals(body)) {
      response.body = text;
    } else {
      response.body = body.toString('base64');
      response.isBase64Encoded = true;
    }
    return { value: response };
  }
}

const awslambda = {
  streamifyResponse(handler) {
    if (typeof handler !== 'function') throw new TypeError('streamifyResponse takes a function');
    handler[STREAMING] = true; // marked, as Lambda's runtime marks it, and returned
    return handler;
  },
  HttpResponseStream: {
    from(stream, metadata) {
      stream.metadata = metadata || {};
      return stream;
    },
  },
};

// Runs a streaming handler; resolves to {raw} or {value} once the stream has ended (the
// handler ends it, or its promise settles and canaria ends it), or {error}.
async function runStreaming(handler, event, context) {
  const stream = new ResponseStream();
  const ended = new Promise((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', reject);
  });
  try {
    await handler(event, stream, context);
    if (!stream.writableEnded) stream.end();
    await ended;
  } catch (err) {
    return { error: err };
  }
  return stream.answer();
}

function isStreaming(handler) {
  return Boolean(handler && handler[STREAMING]);
}

module.exports = { awslambda, isStreaming, runStreaming };

'use strict';
// Lambda's response streaming API for Node.js handlers.
//
// `awslambda.streamifyResponse(handler)` marks a handler that writes its response to a
// stream, `awslambda.HttpResponseStream.from(stream, {statusCode, headers, cookies})` gives
// that response HTTP metadata. Lambda's runtime provides the `awslambda` global; canaria's
// does too, so such a module loads and runs unchanged. As Lambda's runtime client does,
// the bytes go to the Runtime API as the handler writes them: one chunked POST with
// `Lambda-Runtime-Function-Response-Mode: streaming`, opened at the first write (or at the
// end), with the stream's content type. HTTP metadata goes first, as its JSON and eight NUL
// bytes (`application/vnd.awslambda.http-integration-response`). canaria passes the bytes
// on to a caller that streams (a RESPONSE_STREAM function URL, InvokeWithResponseStream)
// and buffers them for any other, as Lambda does.
const { Writable } = require('stream');

const STREAMING = Symbol('canaria.streamifyResponse');
const HTTP_INTEGRATION = 'application/vnd.awslambda.http-integration-response';
const DELIMITER = Buffer.alloc(8);

class ResponseStream extends Writable {
  // `open(contentType)` starts the POST and gives its {write(buffer, callback), end(trailers)}
  constructor(open) {
    super();
    this.open = open;
    this.post = null;
    this.contentType = 'application/octet-stream';
    this.prelude = null; // HttpResponseStream.from's metadata, written before the first byte
  }

  setContentType(contentType) {
    if (this.post) throw new Error('Tried to set content type after the response stream started');
    this.contentType = String(contentType);
  }

  start() {
    if (this.post) return;
    this.post = this.open(this.contentType);
    if (this.prelude !== null) {
      this.post.write(Buffer.concat([Buffer.from(this.prelude, 'utf8'), DELIMITER]), () => {});
    }
  }

  _write(chunk, encoding, callback) {
    this.start();
    this.post.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, encoding), callback);
  }

  _final(callback) {
    this.start();
    callback();
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
      stream.setContentType(HTTP_INTEGRATION);
      stream.prelude = JSON.stringify(metadata || {});
      return stream;
    },
  },
};

// Runs a streaming handler on `stream`; resolves to {} once the stream has ended (the
// handler ends it, or its promise settles and canaria ends it), or to {error}.
async function runStreaming(handler, event, context, stream) {
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
  return {};
}

function isStreaming(handler) {
  return Boolean(handler && handler[STREAMING]);
}

module.exports = { awslambda, isStreaming, runStreaming, ResponseStream };

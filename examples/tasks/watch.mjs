// A subscriber of onAddTask over AppSync's real-time protocol: prints each task added.
//
//   node --experimental-websocket examples/tasks/watch.mjs GRAPHQL_URL API_KEY
//
// Node.js 22 and later have WebSocket without the flag.
const [url, key] = process.argv.slice(2);
if (!url || !key) {
  console.error('usage: watch.mjs GRAPHQL_URL API_KEY');
  process.exit(2);
}
const host = new URL(url).host;
const auth = { host, 'x-api-key': key };
const header = Buffer.from(JSON.stringify(auth)).toString('base64');
const realtime = `${url.replace(/^http/, 'ws')}/realtime?header=${header}&payload=e30=`;
const ws = new WebSocket(realtime, ['graphql-ws']);
ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
ws.addEventListener('message', (e) => {
  const message = JSON.parse(String(e.data));
  if (message.type === 'connection_ack') {
    // a subscriber gets the fields the mutation selected: select no others
    const query = 'subscription { onAddTask { id title } }';
    const data = JSON.stringify({ query, variables: {} });
    const start = { id: 'tasks', type: 'start', payload: { data, extensions: { authorization: auth } } };
    ws.send(JSON.stringify(start));
  } else if (message.type === 'start_ack') {
    console.error('subscribed to onAddTask');
  } else if (message.type === 'data') {
    console.log(JSON.stringify(message.payload.data.onAddTask));
  } else if (message.type === 'error') {
    console.error(JSON.stringify(message.payload.errors));
  }
});
ws.addEventListener('close', (e) => {
  console.error(`closed: ${e.code} ${e.reason}`);
  process.exit(0);
});

// A chat client: prints what the API sends, sends each line typed as a chat message.
// With --every SECONDS it also sends "tick N" at that pace (traffic for a canary).
//
//   node --experimental-websocket examples/chat/talk.mjs ws://127.0.0.1:3000/Prod [--every 0.05]
//
// Node.js 22 and later have WebSocket without the flag.
import readline from 'node:readline';

const [url, flag, every] = process.argv.slice(2);
if (!url) {
  console.error('usage: talk.mjs WS_URL [--every SECONDS]');
  process.exit(2);
}
const ws = new WebSocket(url);
const send = (data) => ws.send(JSON.stringify({ action: 'sendmessage', data }));
ws.addEventListener('open', () => {
  console.error(`connected to ${url}`);
  if (flag === '--every') {
    let n = 0;
    setInterval(() => send(`tick ${++n}`), Number(every) * 1000);
  }
  readline.createInterface({ input: process.stdin }).on('line', send);
});
ws.addEventListener('message', (e) => console.log(String(e.data)));
ws.addEventListener('close', (e) => {
  console.error(`closed: ${e.code} ${e.reason}`);
  process.exit(0);
});
ws.addEventListener('error', () => {
  console.error(`cannot connect to ${url}`);
  process.exit(1);
});

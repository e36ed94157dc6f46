// The api backend of examples/flow.toml: answers every request with $GREETING.
import http from 'node:http';

const port = Number(process.env.PORT ?? 4710);
http
  .createServer((_req, res) => res.end(`${process.env.GREETING ?? 'hello'}\n`))
  .listen(port, '127.0.0.1', () => console.log(`api listening on ${port}`));

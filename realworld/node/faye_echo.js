// Echo server on `faye-websocket`: every message back unchanged, at any path.
//
// Usage: node faye_echo.js PORT. Listens on 127.0.0.1:PORT, prints "ready"
// once listening; a request that is not a WebSocket upgrade gets 404. The
// library's defaults (a 64 MiB message limit).
"use strict";
const http = require("http");
const WebSocket = require("faye-websocket");

const server = http.createServer((request, response) => {
  response.writeHead(404);
  response.end();
});
server.on("upgrade", (request, socket, body) => {
  if (!WebSocket.isWebSocket(request)) {
    socket.destroy();
    return;
  }
  const ws = new WebSocket(request, socket, body);
  ws.on("message", (event) => ws.send(event.data));
});
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready"));

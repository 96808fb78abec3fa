// Echo server on `faye-websocket`: every message back unchanged, at /echo.
//
// Usage: node faye_echo.js PORT. Listens on 127.0.0.1:PORT, prints "ready"
// once listening. The library leaves requests it does not handle to the
// application: a plain HTTP request gets 426 at /echo and 404 elsewhere, an
// upgrade the library does not recognise (`isWebSocket`) gets 400. The
// rest is the library's defaults (a 64 MiB message limit).
"use strict";
const http = require("http");
const WebSocket = require("faye-websocket");

// A plain HTTP request never reaches the library: the application answers.
const server = http.createServer((request, response) => {
  if (request.url.split("?")[0] === "/echo") {
    response.writeHead(426, { Upgrade: "websocket", "Sec-WebSocket-Version": "13" });
  } else {
    response.writeHead(404);
  }
  response.end();
});
server.on("upgrade", (request, socket, body) => {
  if (request.url.split("?")[0] !== "/echo") {
    socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  if (!WebSocket.isWebSocket(request)) {
    socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  const ws = new WebSocket(request, socket, body);
  ws.on("message", (event) => ws.send(event.data));
});
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready"));

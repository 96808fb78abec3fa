// Echo server on `websocket` (WebSocket-Node): every message back unchanged.
//
// Usage: node websocket_node_echo.js PORT. Listens on 127.0.0.1:PORT (any
// path), prints "ready" once listening; every handshake is accepted. The
// frame and message limits are raised to 16 MiB (the library's defaults are
// 64 KiB per frame and 1 MiB per message); the rest is the library's default.
"use strict";
const http = require("http");
const { server: WebSocketServer } = require("websocket");

const httpServer = http.createServer((request, response) => {
  response.writeHead(404);
  response.end();
});
const server = new WebSocketServer({
  httpServer,
  autoAcceptConnections: false,
  maxReceivedFrameSize: 16 * 1024 * 1024,
  maxReceivedMessageSize: 16 * 1024 * 1024,
});
server.on("request", (request) => {
  const connection = request.accept(null, request.origin);
  connection.on("message", (message) => {
    if (message.type === "utf8") {
      connection.sendUTF(message.utf8Data);
    } else {
      connection.sendBytes(message.binaryData);
    }
  });
  connection.on("error", () => {});
});
httpServer.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready"));

// Echo server on `websocket` (WebSocket-Node): every message back unchanged.
//
// Usage: node websocket_node_echo.js PORT. Listens on 127.0.0.1:PORT, echoes at
// /echo (404 elsewhere), prints "ready" once listening. A plain HTTP request
// never reaches the library: it gets 426 at /echo and 404 elsewhere. The
// frame and message limits are raised to 16 MiB (the library's defaults are
// 64 KiB per frame and 1 MiB per message); the rest is the library's default.
"use strict";
const http = require("http");
const { server: WebSocketServer } = require("websocket");

// A plain HTTP request never reaches the library: the application answers.
const httpServer = http.createServer((request, response) => {
  if (request.url.split("?")[0] === "/echo") {
    response.writeHead(426, { Upgrade: "websocket", "Sec-WebSocket-Version": "13" });
  } else {
    response.writeHead(404);
  }
  response.end();
});
const server = new WebSocketServer({
  httpServer,
  autoAcceptConnections: false,
  maxReceivedFrameSize: 16 * 1024 * 1024,
  maxReceivedMessageSize: 16 * 1024 * 1024,
});
server.on("request", (request) => {
  if (request.resourceURL.pathname !== "/echo") {
    request.reject(404);
    return;
  }
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

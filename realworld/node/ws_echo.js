// Echo server on `ws`: every message back unchanged, as text or binary.
//
// Usage: node ws_echo.js PORT. Listens on 127.0.0.1:PORT, echoes at /echo (the
// library refuses other paths), prints "ready" once listening. The library's defaults (100 MiB message limit,
// permessage-deflate off).
"use strict";
const { WebSocketServer } = require("ws");

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: Number(process.argv[2]),
  path: "/echo",
});
server.on("connection", (socket) => {
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
  socket.on("error", () => {});
});
server.on("listening", () => console.log("ready"));

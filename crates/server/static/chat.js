// The chat page served by the wsconform reference server at /.
//
// One WebSocket to /socket. Sending: JSON {username, message} as a text
// message. Receiving: every message of the room, our own included, as the
// same JSON. Messages are shown with textContent, never parsed as HTML, so a
// message such as "<img src=x onerror=alert(1)>" is displayed, not run.
'use strict';

const statusLine = document.getElementById('status');
const list = document.getElementById('messages');
const form = document.getElementById('chat-form');
const usernameInput = document.getElementById('username');
const messageInput = document.getElementById('message');

let socket = new WebSocket('ws://' + location.host + '/socket');
socket.onmessage = renderMessage;
socket.onopen = () => { statusLine.textContent = 'Connected.'; };
socket.onclose = (event) => {
  statusLine.textContent = 'Disconnected (close code ' + event.code + ')'
    + (event.reason ? ': ' + event.reason : '.') + ' Reload the page to reconnect.';
};

function sendMessage() {
  const username = usernameInput.value;
  const message = messageInput.value;
  socket.send(JSON.stringify({ username, message }));
}

function renderMessage(event) {
  const item = document.createElement('li');
  let data = null;
  try {
    data = JSON.parse(event.data);
  } catch (_) {
    // Not JSON: show the raw text, still as text.
  }
  if (data && typeof data.username === 'string' && typeof data.message === 'string') {
    const who = document.createElement('span');
    who.className = 'username';
    who.textContent = data.username;
    const what = document.createElement('span');
    what.textContent = data.message;
    item.append(who, what);
  } else {
    item.className = 'status';
    item.textContent = String(event.data);
  }
  list.append(item);
  list.scrollTop = list.scrollHeight;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  if (socket.readyState !== WebSocket.OPEN || messageInput.value === '') {
    return;
  }
  sendMessage();
  messageInput.value = '';
  messageInput.focus();
});

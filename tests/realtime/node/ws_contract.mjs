// Drives @mattermost/client (the web app's own Client4 + WebSocketClient) against a live Isthmus.
//
// usage: node ws_contract.mjs <server url> <watcher token> <poster token> <channel id>
// Prints one JSON object with what happened; the Python test (test_node_client.py) asserts on it.
//
// Node 20 has no global WebSocket, so the `ws` package provides it (newWebSocketFn), and the
// client's `WebSocket.OPEN` / `CloseEvent` references get minimal globals.
import pkg from '@mattermost/client';
import {WebSocket} from 'ws';

const {Client4, WebSocketClient} = pkg;
const [serverUrl, watcherToken, posterToken, channelId] = process.argv.slice(2);

globalThis.WebSocket = WebSocket;
globalThis.CloseEvent ??= class CloseEvent extends Event {
    constructor(type, init = {}) {
        super(type);
        this.code = init.code;
        this.wasClean = init.wasClean;
    }
};

const poster = new Client4();
poster.setUrl(serverUrl);
poster.setToken(posterToken);

const result = {
    messages: [], firstConnect: 0, reconnects: 0, missed: 0, closes: 0,
    statusesReply: null, pingReplies: 0, posts: [], error: null,
};
const wsUrl = poster.getWebSocketUrl().replace(/^http/, 'ws');
const wsc = new WebSocketClient({
    newWebSocketFn: (url) => {
        result.lastUrl = url;
        return new WebSocket(url);
    },
    minWebSocketRetryTime: 50,
    reconnectJitterRange: 0,
    clientPingInterval: 1000,
});

const timeout = setTimeout(() => finish('timeout'), 20000);
let phase = 'connecting';

function finish(error) {
    result.error = error ?? null;
    result.phase = phase;
    result.serverSequence = wsc.serverSequence;
    result.connectionId = wsc.connectionId;
    clearTimeout(timeout);
    wsc.close();
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
}

async function post(message) {
    const created = await poster.createPost({channel_id: channelId, message});
    result.posts.push(created.id);
}

wsc.addFirstConnectListener(() => { result.firstConnect += 1; });
wsc.addReconnectListener(() => { result.reconnects += 1; });
wsc.addMissedMessageListener(() => { result.missed += 1; });
wsc.addCloseListener(() => { result.closes += 1; });

wsc.addMessageListener((msg) => {
    result.messages.push(msg);
    (async () => {
        if (msg.event === 'hello' && phase === 'connecting') {
            phase = 'hello';
            wsc.getStatusesByIds([msg.broadcast.user_id], (reply) => { result.statusesReply = reply; });
            await post('from node 1');
        } else if (msg.event === 'posted' && phase === 'hello') {
            phase = 'dropping';
            // Drop the socket under the client: it must reconnect with connection_id +
            // sequence_number and, the connection being resumable, get no new hello.
            wsc.conn.close();
            phase = 'resuming';
            await post('while reconnecting');
        } else if (msg.event === 'posted' && phase === 'resuming') {
            const text = JSON.parse(msg.data.post).message;
            if (text === 'while reconnecting') {
                phase = 'after';
                await post('from node 2');
            }
        } else if (msg.event === 'posted' && phase === 'after') {
            wsc.sendMessage('ping', null, () => {
                result.pingReplies += 1;
                finish();
            });
        }
    })().catch((err) => finish(String(err)));
});

wsc.initialize(wsUrl, watcherToken);

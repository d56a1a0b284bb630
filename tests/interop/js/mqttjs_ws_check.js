#!/usr/bin/env node
// MQTT over WebSockets with MQTT.js (npm `mqtt` 5.x): one client over
// ws:// and one over plain TCP exchange messages both ways, at MQTT 3.1.1
// and at 5.0.
//
// Usage: node mqttjs_ws_check.js WS_PORT TCP_PORT
//
// For each protocol version: the WebSocket client (subprotocol `mqtt`,
// path /mqtt) subscribes to ws/in/#, the TCP client to ws/out/#; the TCP
// client publishes at QoS 0, 1 and 2 and the WebSocket client receives
// them in order; the WebSocket client publishes at QoS 0, 1 and 2 and a
// 300 kB message (many socket reads' worth), and the TCP client receives
// them. Prints one "ok:" line per version, "FAIL:" and
// exit 1 on a mismatch, exit 2 on bad usage or a missing MQTT.js. Every
// wait is bounded and a watchdog ends the script, so it never hangs.
'use strict'

let mqtt
try {
  mqtt = require('mqtt')
} catch (e) {
  console.log(`FAIL: MQTT.js is not installed (${e.message}): run scripts/test.sh`)
  process.exit(2)
}

const TIMEOUT_MS = 5000
const DEADLINE_MS = 25000

function within (promise, ms, what) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Connects and resolves with the client, collecting messages. */
function open (url, protocolVersion, clientId) {
  const client = mqtt.connect(url, {
    protocolVersion,
    clientId,
    reconnectPeriod: 0,
    connectTimeout: TIMEOUT_MS,
    clean: true
  })
  client.received = []
  client.waiters = []
  client.on('message', (topic, payload, packet) => {
    client.received.push({ topic, payload: payload.toString(), qos: packet.qos })
    for (const w of client.waiters.splice(0)) w()
  })
  return within(new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client))
    client.once('error', reject)
  }), TIMEOUT_MS, `CONNACK for ${clientId}`)
}

/** Resolves once `client` has received `count` messages. */
function receive (client, count, what) {
  return within(new Promise((resolve) => {
    const check = () => {
      if (client.received.length >= count) resolve(client.received.slice(0, count))
      else client.waiters.push(check)
    }
    check()
  }), TIMEOUT_MS, what)
}

function expectEqual (got, want, what) {
  const g = JSON.stringify(got)
  const w = JSON.stringify(want)
  if (g !== w) throw new Error(`${what}: got ${g.slice(0, 200)}, want ${w.slice(0, 200)}`)
}

async function exchange (wsPort, tcpPort, version) {
  const tag = `v${version}`
  const ws = await open(`ws://127.0.0.1:${wsPort}/mqtt`, version, `ws-${tag}`)
  const tcp = await open(`mqtt://127.0.0.1:${tcpPort}`, version, `tcp-${tag}`)
  try {
    await ws.subscribeAsync('ws/in/#', { qos: 2 })
    await tcp.subscribeAsync('ws/out/#', { qos: 2 })
    for (const qos of [0, 1, 2]) {
      await tcp.publishAsync(`ws/in/${qos}`, `tcp to ws at ${qos}`, { qos })
    }
    expectEqual(await receive(ws, 3, 'messages over WebSocket'), [0, 1, 2].map((qos) => ({
      topic: `ws/in/${qos}`, payload: `tcp to ws at ${qos}`, qos
    })), `${tag} WebSocket client received`)
    const big = 'x'.repeat(300000)
    for (const qos of [0, 1, 2]) {
      await ws.publishAsync(`ws/out/${qos}`, `ws to tcp at ${qos}`, { qos })
    }
    await ws.publishAsync('ws/out/big', big, { qos: 1 })
    // By topic: MQTT.js hands a QoS 2 message over only on PUBREL, so the
    // large QoS 1 one may overtake it.
    const got = (await receive(tcp, 4, 'messages over TCP'))
      .sort((a, b) => a.topic.localeCompare(b.topic))
    expectEqual(got.slice(0, 3), [0, 1, 2].map((qos) => ({
      topic: `ws/out/${qos}`, payload: `ws to tcp at ${qos}`, qos
    })), `${tag} TCP client received`)
    expectEqual([got[3].topic, got[3].payload.length, got[3].payload === big],
      ['ws/out/big', big.length, true], `${tag} large message`)
    console.log(`ok: MQTT ${version === 4 ? '3.1.1' : '5.0'} over ws:// both ways`)
  } finally {
    await Promise.all([ws.endAsync(), tcp.endAsync()])
  }
}

async function main () {
  const [wsPort, tcpPort] = process.argv.slice(2).map(Number)
  if (!wsPort || !tcpPort) {
    console.log('usage: node mqttjs_ws_check.js WS_PORT TCP_PORT')
    process.exit(2)
  }
  const watchdog = setTimeout(() => {
    console.log(`FAIL: not done within ${DEADLINE_MS} ms`)
    process.exit(1)
  }, DEADLINE_MS)
  try {
    await exchange(wsPort, tcpPort, 4)
    await exchange(wsPort, tcpPort, 5)
  } catch (e) {
    console.log(`FAIL: ${e.message}`)
    process.exit(1)
  }
  clearTimeout(watchdog)
  process.exit(0)
}

main()

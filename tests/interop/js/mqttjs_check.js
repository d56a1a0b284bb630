#!/usr/bin/env node
// MQTT 5 interoperability checks of a broker with MQTT.js (npm `mqtt` 5.x).
//
// Usage: node mqttjs_check.js PORT [--expect-broker-aliases] [CHECK ...]
//
// Connects to 127.0.0.1:PORT with MQTT 5.0 and runs the named checks
// (every check when none is named; `--list` prints their names). Prints
// one "ok:" line per passed check and a "FAIL:" line per mismatch; exits 0
// only if every check passed (1 on a mismatch, 2 on bad usage or a missing
// MQTT.js). Every wait is bounded and a watchdog ends the script after
// DEADLINE_MS, so it never hangs.
//
// --expect-broker-aliases: the topic_alias check also requires the broker
// to use Topic Aliases towards a subscriber that allows them (sending a
// topic with an alias, then the alias alone). The spec allows but does not
// require this, so it is asked of midge only.
'use strict'

let mqtt
try {
  mqtt = require('mqtt')
} catch (e) {
  console.log(`FAIL: MQTT.js is not installed (${e.message}): run scripts/test.sh`)
  process.exit(2)
}

const TIMEOUT_MS = 4000
const QUIET_MS = 300
const DEADLINE_MS = 25000

class Mismatch extends Error {}

function expect (cond, what) {
  if (!cond) throw new Mismatch(what)
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Resolves like `promise`, or fails with "no WHAT" after `ms`. */
function within (promise, ms, what) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Mismatch(`no ${what} within ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** One MQTT.js client; received messages and raw PUBLISH packets are kept. */
class Conn {
  static async open (port, clientId, options = {}) {
    const client = mqtt.connect({
      host: '127.0.0.1',
      port,
      protocolVersion: 5,
      clientId,
      reconnectPeriod: 0,
      connectTimeout: TIMEOUT_MS,
      keepalive: 30,
      ...options
    })
    const conn = new Conn(client, clientId)
    conn.connack = await within(new Promise((resolve, reject) => {
      client.once('connect', resolve)
      client.once('error', reject)
      client.once('close', () => reject(new Mismatch(`${clientId}: closed before CONNACK`)))
    }), TIMEOUT_MS, `CONNACK for ${clientId}`)
    client.removeAllListeners('error')
    client.on('error', (e) => { conn.error = e })
    return conn
  }

  constructor (client, clientId) {
    this.client = client
    this.id = clientId
    this.messages = []
    this.received = []
    this.sent = []
    this.wake = null
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload: payload.toString(), qos: packet.qos,
                           retain: packet.retain, properties: packet.properties || {} })
      if (this.wake) this.wake()
    })
    client.on('packetreceive', (packet) => {
      if (packet.cmd === 'publish') {
        this.received.push({ topic: packet.topic.toString(),
                             alias: packet.properties && packet.properties.topicAlias })
      }
    })
    client.on('packetsend', (packet) => {
      if (packet.cmd === 'publish') {
        this.sent.push({ topic: packet.topic.toString(),
                         alias: packet.properties && packet.properties.topicAlias })
      }
    })
  }

  get sessionPresent () {
    return this.connack.sessionPresent
  }

  /** Waits for `count` messages in all and returns them. */
  async next (count, timeoutMs = TIMEOUT_MS) {
    const end = Date.now() + timeoutMs
    while (this.messages.length < count && Date.now() < end) {
      await new Promise((resolve) => {
        this.wake = resolve
        setTimeout(resolve, Math.max(0, end - Date.now()))
      })
      this.wake = null
    }
    const got = this.messages.splice(0, count)
    expect(got.length === count, `${this.id}: expected ${count} messages, got ` +
           `${got.length} within ${timeoutMs} ms: ${JSON.stringify(got)}`)
    return got
  }

  /** Fails if a message arrives within `quietMs`. */
  async nothingMore (quietMs = QUIET_MS) {
    await sleep(quietMs)
    expect(this.messages.length === 0,
           `${this.id}: unexpected extra messages ${JSON.stringify(this.messages)}`)
  }

  /** Subscribes and checks the SUBACK grants `qos` [MQTT-3.8.4-7]. */
  async subscribe (filter, qos, options = {}) {
    const granted = await within(this.client.subscribeAsync(filter, { qos, ...options }),
                                 TIMEOUT_MS, `SUBACK for ${filter}`)
    expect(granted.length === 1 && granted[0].qos === qos,
           `${this.id}: SUBACK for ${filter} at QoS ${qos}: ${JSON.stringify(granted)}`)
  }

  /** Publishes and waits for the QoS flow to complete. */
  async publish (topic, payload, qos, options = {}) {
    await within(this.client.publishAsync(topic, payload, { qos, ...options }),
                 TIMEOUT_MS, `acknowledgement of ${topic} at QoS ${qos}`)
  }

  /** Sends DISCONNECT and closes. */
  async end () {
    await within(this.client.endAsync(), TIMEOUT_MS, `end of ${this.id}`)
  }

  /** Closes the socket without DISCONNECT, as a crashed client would. */
  drop () {
    this.client.stream.destroy()
    this.client.end(true)
  }
}

async function closing (...conns) {
  for (const c of conns) {
    if (c && c.client.connected) await c.end().catch(() => {})
  }
}

const pick = (messages) => messages.map((m) => [m.topic, m.payload, m.qos])

// QoS 0/1/2 reach wildcard subscribers at min(published, granted) QoS
// [MQTT-3.8.4-8], in order per topic [MQTT-4.6.0-6], exactly once.
async function qosRoundTrips (port) {
  const full = await Conn.open(port, 'mqttjs-sub-q2')
  const capped = await Conn.open(port, 'mqttjs-sub-q1')
  const publisher = await Conn.open(port, 'mqttjs-pub')
  try {
    await full.subscribe('mqttjs/qos/#', 2)
    await capped.subscribe('mqttjs/+/+', 1)
    const sent = []
    for (const qos of [0, 1, 2]) {
      for (let i = 0; i < 5; i++) {
        const topic = `mqttjs/qos/${qos}`
        await publisher.publish(topic, `q${qos}-msg${i}`, qos)
        sent.push([topic, `q${qos}-msg${i}`, qos])
      }
    }
    for (const [conn, max] of [[full, 2], [capped, 1]]) {
      const got = await conn.next(sent.length)
      await conn.nothingMore()
      for (const qos of [0, 1, 2]) {
        const topic = `mqttjs/qos/${qos}`
        const want = sent.filter((s) => s[0] === topic).map(([t, p, q]) => [t, p, Math.min(q, max)])
        const have = pick(got.filter((m) => m.topic === topic))
        expect(JSON.stringify(have) === JSON.stringify(want),
               `${conn.id} on ${topic}: expected ${JSON.stringify(want)}, got ${JSON.stringify(have)}`)
      }
    }
    return `${sent.length} messages at QoS 0/1/2 to 2 wildcard subscribers`
  } finally {
    await closing(full, capped, publisher)
  }
}

// Clean Start 0 with Session Expiry Interval 30 resumes the session:
// Session Present [MQTT-3.2.2-3] and the messages queued while away
// [MQTT-3.1.2-23].
async function sessionResume (port) {
  const session = { properties: { sessionExpiryInterval: 30 } }
  const first = await Conn.open(port, 'mqttjs-resume', { clean: true, ...session })
  await first.subscribe('mqttjs/resume/#', 2)
  await first.end()
  const publisher = await Conn.open(port, 'mqttjs-resume-pub')
  const sent = [['mqttjs/resume/a', 'r1', 1], ['mqttjs/resume/a', 'r2', 1],
                ['mqttjs/resume/b', 'r3', 2]]
  for (const [t, p, q] of sent) await publisher.publish(t, p, q)
  await publisher.end()
  const back = await Conn.open(port, 'mqttjs-resume', { clean: false, ...session })
  try {
    expect(back.sessionPresent, 'resumed session reported Session Present 0 [MQTT-3.2.2-3]')
    const got = await back.next(sent.length)
    await back.nothingMore()
    for (const key of ['mqttjs/resume/a', 'mqttjs/resume/b']) {
      const want = sent.filter((s) => s[0] === key)
      const have = pick(got.filter((m) => m.topic === key))
      expect(JSON.stringify(have) === JSON.stringify(want),
             `queued on ${key}: expected ${JSON.stringify(want)}, got ${JSON.stringify(have)}`)
    }
    return `session resumed with ${sent.length} queued messages`
  } finally {
    await closing(back)
  }
}

// A will with Will Delay Interval 1 s arrives after the delay
// [MQTT-3.1.2-8]; a reconnect within a 2 s delay cancels it [MQTT-3.1.3-9].
async function willDelay (port) {
  const watcher = await Conn.open(port, 'mqttjs-will-watcher')
  let saved
  try {
    await watcher.subscribe('mqttjs/will/#', 1)
    const victim = (name, delay) => Conn.open(port, `mqttjs-will-${name}`, {
      properties: { sessionExpiryInterval: 30 },
      will: { topic: `mqttjs/will/${name}`, payload: Buffer.from(`${name} gone`), qos: 1,
              retain: false, properties: { willDelayInterval: delay } }
    })
    const late = await victim('late', 1)
    saved = await victim('saved', 2)
    const droppedAt = Date.now()
    late.drop()
    saved.drop()
    saved = await Conn.open(port, 'mqttjs-will-saved', {
      clean: false, properties: { sessionExpiryInterval: 30 }
    })
    expect(saved.sessionPresent, 'reconnect within the will delay lost the session')
    const got = await watcher.next(1)
    const arrived = (Date.now() - droppedAt) / 1000
    expect(JSON.stringify(pick(got)) === JSON.stringify([['mqttjs/will/late', 'late gone', 1]]),
           `expected the will of mqttjs-will-late, got ${JSON.stringify(got)}`)
    expect(arrived >= 0.9, `will with a 1 s delay came ${arrived}s after the drop`)
    await watcher.nothingMore(Math.max(0, droppedAt + 3000 - Date.now()))
    return `1 s-delay will after ${arrived}s; a reconnect cancelled the 2 s-delay will`
  } finally {
    await closing(watcher, saved)
  }
}

// `$share/grp/...` gives each message to exactly one member, both members
// get some (4.8.2), and a plain subscriber gets them all in order.
async function sharedSubscription (port) {
  const members = [await Conn.open(port, 'mqttjs-share-a'), await Conn.open(port, 'mqttjs-share-b')]
  const plain = await Conn.open(port, 'mqttjs-share-plain')
  const publisher = await Conn.open(port, 'mqttjs-share-pub')
  try {
    for (const m of members) await m.subscribe('$share/grp/mqttjs/shared/#', 1)
    await plain.subscribe('mqttjs/shared/#', 1)
    const sent = []
    for (let i = 0; i < 20; i++) {
      sent.push([`mqttjs/shared/${i % 3}`, `job ${i}`, 1])
      await publisher.publish(`mqttjs/shared/${i % 3}`, `job ${i}`, 1)
    }
    const all = await plain.next(sent.length)
    expect(JSON.stringify(pick(all)) === JSON.stringify(sent),
           `plain subscriber expected every message in order, got ${JSON.stringify(all)}`)
    const end = Date.now() + TIMEOUT_MS
    while (members[0].messages.length + members[1].messages.length < sent.length && Date.now() < end) {
      await sleep(20)
    }
    await sleep(QUIET_MS)
    const shares = members.map((m) => m.messages.splice(0))
    const union = shares.flat().map((m) => m.payload).sort()
    expect(JSON.stringify(union) === JSON.stringify(sent.map((s) => s[1]).sort()),
           `group did not get each message exactly once: ${JSON.stringify(shares)}`)
    expect(shares.every((s) => s.length > 0),
           `one member got nothing: ${shares.map((s) => s.length)}`)
    return `group of 2 split ${sent.length} messages ${shares[0].length}/${shares[1].length}`
  } finally {
    await closing(...members, plain, publisher)
  }
}

// Topic aliases both ways. Client to broker: the broker resolves an alias
// it allowed in CONNACK [MQTT-3.3.2-12]. Broker to client: only to a
// client that sent a Topic Alias Maximum [MQTT-3.1.2-27], never above it
// [MQTT-3.3.2-11]; with --expect-broker-aliases, the broker must use them.
async function topicAlias (port, flags) {
  const aliasing = await Conn.open(port, 'mqttjs-alias-sub', { properties: { topicAliasMaximum: 5 } })
  const plain = await Conn.open(port, 'mqttjs-alias-plain')
  const publisher = await Conn.open(port, 'mqttjs-alias-pub', { autoUseTopicAlias: true })
  try {
    const maximum = (publisher.connack.properties || {}).topicAliasMaximum || 0
    expect(maximum >= 1, `CONNACK Topic Alias Maximum is ${maximum}; need 1 for this check`)
    await aliasing.subscribe('mqttjs/alias/#', 1)
    await plain.subscribe('mqttjs/alias/#', 1)
    const topics = ['mqttjs/alias/first/long/topic', 'mqttjs/alias/second']
    const sent = []
    for (let i = 0; i < 8; i++) {
      const topic = topics[i < 4 ? 0 : i % 2]
      const options = i === 0 ? { properties: { topicAlias: 1 } } : {}
      await publisher.publish(topic, `m${i}`, 1, options)
      sent.push([topic, `m${i}`, 1])
    }
    const aliasOnly = publisher.sent.filter((p) => p.topic === '' && p.alias === 1).length
    expect(aliasOnly === 5, `MQTT.js sent ${aliasOnly} alias-only PUBLISHes, expected 5`)
    for (const conn of [aliasing, plain]) {
      const got = await conn.next(sent.length)
      expect(JSON.stringify(pick(got)) === JSON.stringify(sent),
             `${conn.id} expected ${JSON.stringify(sent)}, got ${JSON.stringify(pick(got))}`)
    }
    expect(plain.received.every((p) => p.alias === undefined && p.topic !== ''),
           `broker sent aliases to a client without Topic Alias Maximum: ${JSON.stringify(plain.received)}`)
    const used = aliasing.received.filter((p) => p.alias !== undefined)
    expect(used.every((p) => p.alias >= 1 && p.alias <= 5),
           `broker alias outside 1..5: ${JSON.stringify(used)}`)
    if (flags.expectBrokerAliases) {
      const setAt = aliasing.received.findIndex((p) => p.alias !== undefined && p.topic !== '')
      const reused = aliasing.received.slice(setAt + 1)
        .some((p) => p.topic === '' && p.alias === aliasing.received[setAt].alias)
      expect(setAt >= 0 && reused, 'broker never sent a topic with an alias followed by ' +
             `the alias alone: ${JSON.stringify(aliasing.received)}`)
    }
    const bare = aliasing.received.filter((p) => p.topic === '').length
    return `5 alias-only publishes resolved; broker to client: ${used.length} of ` +
      `${aliasing.received.length} PUBLISHes with an alias, ${bare} alias-only`
  } finally {
    await closing(aliasing, plain, publisher)
  }
}

// User properties, content type, response topic, correlation data and
// payload format indicator arrive unaltered [MQTT-3.3.2-17] [MQTT-3.3.2-18]
// [MQTT-3.3.2-20] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-4].
async function userProperties (port) {
  const sub = await Conn.open(port, 'mqttjs-props-sub')
  const publisher = await Conn.open(port, 'mqttjs-props-pub')
  try {
    await sub.subscribe('mqttjs/props/#', 2)
    const properties = {
      userProperties: { region: 'eu-west', tag: ['first', 'second'], 'ünï': 'cödé ✓' },
      contentType: 'text/plain; charset=utf-8',
      responseTopic: 'mqttjs/props/reply',
      correlationData: Buffer.from([0, 1, 2, 0xfe, 0xff]),
      payloadFormatIndicator: true
    }
    for (const qos of [0, 1, 2]) await publisher.publish(`mqttjs/props/q${qos}`, 'hi', qos, { properties })
    const got = await sub.next(3)
    for (const m of got) {
      const have = {}
      for (const key of Object.keys(properties)) have[key] = m.properties[key]
      expect(JSON.stringify(have) === JSON.stringify(properties),
             `${m.topic}: sent ${JSON.stringify(properties)}, got ${JSON.stringify(have)}`)
    }
    return 'user properties and 4 other properties kept at QoS 0/1/2'
  } finally {
    await closing(sub, publisher)
  }
}

const CHECKS = {
  qos_round_trips: qosRoundTrips,
  session_resume: sessionResume,
  will_delay: willDelay,
  shared_subscription: sharedSubscription,
  topic_alias: topicAlias,
  user_properties: userProperties
}

async function main () {
  const args = process.argv.slice(2)
  if (args.length === 1 && args[0] === '--list') {
    console.log(Object.keys(CHECKS).join('\n'))
    return 0
  }
  const flags = { expectBrokerAliases: args.includes('--expect-broker-aliases') }
  const rest = args.filter((a) => a !== '--expect-broker-aliases')
  const port = Number(rest[0])
  const names = rest.slice(1)
  if (!/^\d+$/.test(rest[0] || '') || names.some((n) => !(n in CHECKS))) {
    console.log('usage: mqttjs_check.js PORT [--expect-broker-aliases] [CHECK ...]; ' +
                `checks: ${Object.keys(CHECKS).join(' ')}`)
    return 2
  }
  const chosen = names.length ? names : Object.keys(CHECKS)
  console.log(`MQTT.js ${mqtt.MQTTJS_VERSION || '?'} (MQTT 5) against 127.0.0.1:${port}`)
  let failures = 0
  for (const name of chosen) {
    try {
      console.log(`ok: ${name}: ${await CHECKS[name](port, flags)}`)
    } catch (e) {
      failures++
      console.log(`FAIL: ${name}: ${e instanceof Mismatch ? '' : `${e.constructor.name}: `}${e.message}`)
    }
  }
  console.log(`${chosen.length - failures}/${chosen.length} checks passed`)
  return failures ? 1 : 0
}

setTimeout(() => {
  console.log(`FAIL: still running after ${DEADLINE_MS} ms`)
  process.exit(1)
}, DEADLINE_MS).unref()

main().then((code) => process.exit(code), (e) => {
  console.log(`FAIL: ${e.stack || e}`)
  process.exit(1)
})

'use strict';
// Publishes one WebhookReceived onto the EventBackbone bus with nothing but docs/asyncapi.json and an AMQP client:
// the exchange, the wire identity and the schema all come from the document, not from the C# records.
//
//   AMQP_URL=amqp://guest:guest@localhost:5672/ node publish.js [source]
//
// Prints {"messageId": …, "eventId": …, "exchange": …} once the broker has confirmed the message.
const fs = require('node:fs');
const path = require('node:path');
const { randomUUID } = require('node:crypto');
const amqp = require('amqplib');
const Ajv = require('ajv');

const CONTRACT = 'WebhookReceived';
const documentPath = process.env.ASYNCAPI_DOCUMENT || path.join(__dirname, '..', '..', 'docs', 'asyncapi.json');
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@localhost:5672/';
const source = process.argv[2] || 'node-publisher';

const asyncapi = JSON.parse(fs.readFileSync(documentPath, 'utf8'));
const message = asyncapi.components.messages[CONTRACT];
const contentType = message.contentType; // application/vnd.masstransit+json
const messageType = message.bindings.amqp.messageType; // urn:message:EventBackbone.Contracts.Webhooks:WebhookReceived
const exchange = asyncapi.channels[CONTRACT].bindings.amqp.exchange.name; // EventBackbone.Contracts.Webhooks:WebhookReceived

const now = new Date().toISOString();
const webhook = {
  eventId: randomUUID(),
  source,
  eventType: 'node.example',
  receivedAt: now,
  contentType: 'application/json',
  payload: JSON.stringify({ hello: 'from node' }),
};
// The MassTransit envelope: messageId is what every consumer's inbox deduplicates on, so a resend keeps it.
const envelope = {
  messageId: randomUUID(),
  conversationId: randomUUID(),
  messageType: [messageType],
  message: webhook,
  sentTime: now,
  headers: {},
};

// The document's own schema decides what a valid message is: the envelope, and the contract inside it.
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
ajv.addFormat('date-time', (value) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value));
ajv.addFormat('uri', (value) => URL.canParse(value));
ajv.addSchema(asyncapi, 'asyncapi.json');
const validate = ajv.compile({ $ref: `asyncapi.json#/components/messages/${CONTRACT}/payload` });
if (!validate(envelope)) {
  console.error(`The ${CONTRACT} message does not match docs/asyncapi.json:`, JSON.stringify(validate.errors, null, 2));
  process.exit(2);
}

async function main() {
  const connection = await amqp.connect(amqpUrl);
  try {
    // A confirm channel: the script reports success only once the broker has taken the message.
    const channel = await connection.createConfirmChannel();
    // Declared by the consuming hosts (MassTransit's topology); missing means no consumer of it runs on this vhost.
    await channel.checkExchange(exchange);
    channel.publish(exchange, '', Buffer.from(JSON.stringify(envelope)), {
      contentType,
      messageId: envelope.messageId,
      persistent: true,
    });
    await channel.waitForConfirms();
    console.log(JSON.stringify({ messageId: envelope.messageId, eventId: webhook.eventId, exchange }));
  } finally {
    await connection.close();
  }
}

main().catch((error) => {
  console.error(`Publishing ${CONTRACT} to ${exchange} failed: ${error.message}`);
  process.exit(1);
});

// Segment's Node SDK (@segment/analytics-node), unmodified, pointed at righttime: the e2e test runs
// `node node_sdk.mjs HOST WRITE_KEY USER_ID EMAIL` and reads the errors it prints (one JSON line at the end).
import { Analytics } from '@segment/analytics-node'

const [host, writeKey, userId, email] = process.argv.slice(2)
const errors = []
const analytics = new Analytics({ writeKey, host, maxRetries: 0 })
analytics.on('error', (err) => errors.push(String(err?.reason ?? err?.code ?? err)))
analytics.identify({ userId, traits: { email, firstName: 'Nora' } })
analytics.track({
  userId,
  event: 'Product Added',
  properties: { product_id: 'teapot-3', name: 'Iron teapot', price: 39 },
})
await analytics.closeAndFlush({ timeout: 10000 })
console.log(JSON.stringify({ errors }))

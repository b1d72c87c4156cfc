/**
 * Notifications queue consumer. Delivery channels are not wired yet, so every
 * message is kept (retried later) rather than acknowledged and lost; messages
 * that exhaust their retries land in the dead-letter queue.
 */
export async function handleQueue(batch: MessageBatch, _env: Env, _ctx: ExecutionContext): Promise<void> {
  for (const msg of batch.messages) {
    console.warn(`notification ${msg.id} on ${batch.queue} kept for a later attempt (${msg.attempts})`);
    msg.retry({ delaySeconds: 60 });
  }
}

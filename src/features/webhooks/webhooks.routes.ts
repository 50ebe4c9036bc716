import { z } from 'zod';
import { listOf } from '../../wire/common.ts';
import { defineRoute, type RouteSpec } from '../../wire/route.ts';
import {
  createdEndpointSchema,
  createWebhookSchema,
  deliveriesQuery,
  deliveryViewSchema,
  endpointViewSchema,
  rotatedEndpointSchema,
  testEventQueuedSchema,
  updateWebhookSchema,
} from '../../wire/webhooks.ts';
import type { WebhooksService } from './webhooks.service.ts';

const auth = { sessionOrAdmin: true } as const;
const tag = 'Webhooks';

/**
 * /v2/webhooks. Like API keys, managed from a dashboard session or with admin:all. New endpoints and
 * the list are the caller's own account's (a session's, or the admin:all credential's).
 */
export function webhooksRoutes(webhooks: WebhooksService): RouteSpec[] {
  return [
    defineRoute({
      method: 'post',
      path: '/webhooks',
      operationId: 'createWebhook',
      summary: 'Register an endpoint (the signing secret is shown once)',
      tag,
      auth,
      body: createWebhookSchema,
      status: 201,
      response: createdEndpointSchema,
      secret: true,
      handler: ({ principal, body, by }) => webhooks.create(principal.requireAccount(), body, by),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks',
      operationId: 'listWebhooks',
      summary: 'List your endpoints',
      tag,
      auth,
      status: 200,
      response: listOf(endpointViewSchema),
      handler: async ({ principal }) => ({ data: await webhooks.list(principal.requireAccount()) }),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id',
      operationId: 'getWebhook',
      summary: 'Get an endpoint',
      tag,
      auth,
      status: 200,
      response: endpointViewSchema,
      handler: ({ principal, params }) => webhooks.get(principal, params.id),
    }),
    defineRoute({
      method: 'patch',
      path: '/webhooks/:id',
      operationId: 'updateWebhook',
      summary: 'Update an endpoint (status "active" re-enables it)',
      tag,
      auth,
      body: updateWebhookSchema,
      status: 200,
      response: endpointViewSchema,
      handler: ({ principal, params, body, by }) => webhooks.update(principal, params.id, body, by),
    }),
    defineRoute({
      method: 'delete',
      path: '/webhooks/:id',
      operationId: 'deleteWebhook',
      summary: 'Delete an endpoint',
      tag,
      auth,
      status: 204,
      handler: ({ principal, params, by }) => webhooks.remove(principal, params.id, by),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/secret',
      operationId: 'rotateWebhookSecret',
      summary: 'Rotate the signing secret (both sign during the overlap)',
      tag,
      auth,
      status: 200,
      response: rotatedEndpointSchema,
      secret: true,
      handler: ({ principal, params, by }) => webhooks.rotateSecret(principal, params.id, by),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id/deliveries',
      operationId: 'listWebhookDeliveries',
      summary: 'The delivery log',
      tag,
      auth,
      query: deliveriesQuery,
      status: 200,
      response: listOf(deliveryViewSchema),
      handler: async ({ principal, params, query }) => ({
        data: await webhooks.deliveries(principal, params.id, query.limit),
      }),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id/deliveries/:deliveryId',
      operationId: 'getWebhookDelivery',
      summary: "One delivery: the body sent, and each attempt's headers, status, latency and response excerpt",
      tag,
      auth,
      status: 200,
      response: deliveryViewSchema,
      handler: ({ principal, params }) => webhooks.delivery(principal, params.id, params.deliveryId),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/deliveries/:deliveryId/retry',
      operationId: 'retryWebhookDelivery',
      summary: 'Attempt a queued delivery now instead of at its scheduled retry',
      tag,
      auth,
      status: 202,
      response: z.object({ queued: z.literal(true) }),
      handler: async ({ principal, params }) => {
        await webhooks.retryNow(principal, params.id, params.deliveryId);
        return { queued: true as const };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/test',
      operationId: 'sendWebhookTestEvent',
      summary: 'Queue a signed webhook.test event to this endpoint only (limited per account)',
      tag,
      auth,
      status: 202,
      response: testEventQueuedSchema,
      handler: ({ principal, params }) => webhooks.sendTestEvent(principal, params.id),
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/deliveries/:deliveryId/redeliver',
      operationId: 'redeliverWebhook',
      summary: 'Send a delivery again (same webhook-id)',
      tag,
      auth,
      status: 202,
      response: z.object({ queued: z.literal(true) }),
      handler: async ({ principal, params }) => {
        await webhooks.redeliver(principal, params.id, params.deliveryId);
        return { queued: true as const };
      },
    }),
  ];
}

import { z } from 'zod';
import { principalOf } from '../../auth/principal.ts';
import { defineRoute, listOf, type RouteSpec } from '../../api/route-spec.ts';
import type { AppContext } from '../../http/context.ts';
import {
  createdEndpointSchema,
  createWebhookSchema,
  deliveryViewSchema,
  endpointViewSchema,
  rotatedEndpointSchema,
  updateWebhookSchema,
  type WebhooksService,
} from './webhooks.service.ts';

/** The account new endpoints and the list belong to: the caller's own (a session's, or the admin:all credential's). */
const owner = (ctx: AppContext) => principalOf(ctx).requireAccount();
const auth = { sessionOrAdmin: true } as const;
const tag = 'Webhooks';
const deliveriesQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });

/** /v2/webhooks. Like API keys, managed from a dashboard session or with admin:all. */
export function webhooksRoutes(webhooks: WebhooksService): RouteSpec[] {
  const id = (ctx: AppContext) => ctx.params['id']!;
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
      handler: (ctx) => webhooks.create(owner(ctx), ctx.request.body),
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
      handler: async (ctx) => ({ data: await webhooks.list(owner(ctx)) }),
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
      handler: (ctx) => webhooks.get(principalOf(ctx), id(ctx)),
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
      handler: (ctx) => webhooks.update(principalOf(ctx), id(ctx), ctx.request.body),
    }),
    defineRoute({
      method: 'delete',
      path: '/webhooks/:id',
      operationId: 'deleteWebhook',
      summary: 'Delete an endpoint',
      tag,
      auth,
      status: 204,
      handler: (ctx) => webhooks.remove(principalOf(ctx), id(ctx)),
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
      handler: (ctx) => webhooks.rotateSecret(principalOf(ctx), id(ctx)),
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
      handler: async (ctx) => ({ data: await webhooks.deliveries(principalOf(ctx), id(ctx), ctx.query['limit']) }),
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
      handler: async (ctx) => {
        await webhooks.redeliver(principalOf(ctx), id(ctx), ctx.params['deliveryId']!);
        return { queued: true as const };
      },
    }),
  ];
}

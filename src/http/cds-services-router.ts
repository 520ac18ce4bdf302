import { Router, type Request, type Response } from 'express';
import { answerPatientView, type PatientViewDeps } from '../cds-hooks/patient-view.js';
import { NotFoundError } from '../cds-hooks/errors.js';
import { parsePatientViewRequest } from '../cds-hooks/request.js';
import { discoveryDocument, type ServiceDefinition } from '../cds-hooks/service-definition.js';
import { locals } from './request-context.js';

/**
 * Discovery and service calls.
 * {@link https://cds-hooks.hl7.org/2.0/#discovery} {@link https://cds-hooks.hl7.org/2.0/#calling-a-cds-service}
 * @param services - the validated service definitions.
 * @param deps - what answering a call needs.
 */
export function cdsServicesRouter(
  services: readonly ServiceDefinition[],
  deps: PatientViewDeps,
): Router {
  const router = Router();
  const byId = new Map(services.map((s) => [s.id, s]));
  const discovery = discoveryDocument(services);

  router.get('/cds-services', (_req: Request, res: Response) => {
    res.json(discovery);
  });

  router.post('/cds-services/:id', async (req: Request, res: Response) => {
    const service = byId.get(req.params.id as string);
    if (service === undefined) throw new NotFoundError('no CDS service with this id');
    const request = parsePatientViewRequest(req.body, service.hook);
    const log = locals(res).log.child({
      serviceId: service.id,
      hookInstance: request.hookInstance,
    });
    locals(res).log = log;
    // Stop fetching if the client goes away.
    const aborter = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborter.abort();
    });
    const result = await answerPatientView(service, request, deps, aborter.signal);
    log.info(result.summary, 'patient-view answered');
    res.json(result.response);
  });

  return router;
}

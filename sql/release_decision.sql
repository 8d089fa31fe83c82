-- release_decision.sql: the release decision for a status and a change's risk level.
-- Grain:      one row per input row of `decisions_in(slo, status)` and risk level.
-- Rules:      SLO_MATH 4, table "Release decision by status x risk".
SELECT slo, risk,
       CASE status
           WHEN 'healthy'   THEN CASE risk WHEN 'high' THEN 'review' ELSE 'approve' END
           WHEN 'attention' THEN CASE risk WHEN 'low' THEN 'approve'
                                           WHEN 'medium' THEN 'review' ELSE 'defer' END
           WHEN 'warning'   THEN CASE risk WHEN 'low' THEN 'review'
                                           WHEN 'medium' THEN 'defer' ELSE 'block' END
           WHEN 'critical'  THEN CASE risk WHEN 'low' THEN 'defer' ELSE 'block' END
           WHEN 'exhausted' THEN 'block'
           -- no data or insufficient data (coverage below spec.minCoverage): nobody can
           -- vouch for the service, so never approve
           ELSE 'review'
       END AS decision
FROM decisions_in, (VALUES ('low'), ('medium'), ('high')) AS r(risk)
ORDER BY slo, CASE risk WHEN 'low' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END

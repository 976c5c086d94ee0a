#!/usr/bin/python3
"""The official Kubernetes Python client (Debian's python3-kubernetes, the
client many agent frameworks call Kubernetes with) against the gate in twin
mode serving fixtures/demo, as the agent ops-bot: every kind listed and read
through the typed API and deserialized into its models (the client raises
ValueError when a required field is missing), watches, mutations, an
eviction, a log, refusals as ApiException with Airlock's reason, the self
reviews.  Run by tests/cli/pyclient.sh: python3 pyclient.py KUBECONFIG.

Prints one line per check, "ok NAME" or "not ok NAME" followed by the reason
indented; a check the installed client cannot make is a "# skipped" comment,
not counted.  Exits 1 if a check failed.  Every call is bounded (10 s), and
every wait for the twin to settle is a bounded poll."""
import json
import sys
import threading
import time
import traceback

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

config.load_kube_config(config_file=sys.argv[1])

# Every HTTP call bounded (the generated methods pass _request_timeout=None),
# and mutations paced: the gate lets an agent make 20 mutations a second by
# default, and no check here is about that limit, so at most about 14 a
# second are sent, however fast the machine.
_call_api = client.ApiClient.call_api
_last_mutation = [0.0]


def _bounded_call_api(self, resource_path, method, *args, **kwargs):
    if kwargs.get("_request_timeout") is None:
        kwargs["_request_timeout"] = 10
    if method != "GET":
        wait = _last_mutation[0] + 0.07 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        _last_mutation[0] = time.monotonic()
    return _call_api(self, resource_path, method, *args, **kwargs)


client.ApiClient.call_api = _bounded_call_api

core = client.CoreV1Api()
apps = client.AppsV1Api()
batch = client.BatchV1Api()
policy = client.PolicyV1Api()
net = client.NetworkingV1Api()
rbac = client.RbacAuthorizationV1Api()
sched = client.SchedulingV1Api()
storage = client.StorageV1Api()
coord = client.CoordinationV1Api()
api_client = core.api_client

failures = 0


class Failed(Exception):
    pass


def expect(cond, why):
    if not cond:
        raise Failed(why)


def check(name, fn, *args):
    """Runs fn; ok NAME if it returns, not ok NAME and the reason if it raises."""
    global failures
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 -- any exception is the check's failure
        failures += 1
        print("not ok " + name)
        print("  " + reason(e).replace("\n", "\n  "))
    else:
        print("ok " + name)
    sys.stdout.flush()


def reason(e):
    if isinstance(e, Failed):
        return str(e)
    if isinstance(e, ApiException):
        return "ApiException %s %s: %s" % (e.status, e.reason, (e.body or "")[:600])
    tb = traceback.extract_tb(e.__traceback__)
    where = "%s:%d" % (tb[-1].filename.rsplit("/", 1)[-1], tb[-1].lineno) if tb else "?"
    return "%s: %s (at %s)" % (type(e).__name__, str(e)[:600], where)


def skip(what):
    print("# skipped: " + what)


def status_of(e):
    """The Status in an ApiException's body, as a dict."""
    try:
        return json.loads(e.body)
    except (TypeError, ValueError):
        raise Failed("the body of ApiException %s is not a JSON Status: %r" % (e.status, e.body))


def api_error(fn, *args, **kwargs):
    """The ApiException fn raises; a failure if it raises none."""
    try:
        fn(*args, **kwargs)
    except ApiException as e:
        return e
    raise Failed("%s succeeded; an ApiException was expected" % fn.__name__)


def gone(fn, *args):
    """True when fn(*args) raises ApiException 404."""
    try:
        fn(*args)
    except ApiException as e:
        if e.status == 404:
            return True
        raise
    return False


def until(cond, seconds=5.0):
    """Polls cond (a function) every 0.1 s until it is true, for at most
    seconds; returns its last value."""
    end = time.monotonic() + seconds
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(0.1)


def names(lst):
    return sorted(i.metadata.name for i in lst.items)


def nsnames(lst):
    return sorted("%s/%s" % (i.metadata.namespace, i.metadata.name) for i in lst.items)


def typed(lst, list_model, item_model):
    expect(isinstance(lst, list_model), "got a %s, not a %s" % (type(lst).__name__, list_model.__name__))
    expect(all(isinstance(i, item_model) for i in lst.items), "an item is not a %s" % item_model.__name__)


def has(lst, *wanted):
    got = nsnames(lst) if any("/" in w for w in wanted) else names(lst)
    missing = [w for w in wanted if w not in got]
    expect(not missing, "%s missing from %s" % (missing, got))


def find(lst, name, namespace=None):
    for i in lst.items:
        if i.metadata.name == name and (namespace is None or i.metadata.namespace == namespace):
            return i
    raise Failed("%s%s not in the list (%s)" % (namespace + "/" if namespace else "", name, names(lst)))


def pods_of(namespace, selector):
    """The pods a selector (a dict of labels) selects, by label selector."""
    sel = ",".join("%s=%s" % kv for kv in sorted(selector.items()))
    return core.list_namespaced_pod(namespace, label_selector=sel).items


DEMO_NAMESPACES = ["analytics", "default", "kube-system", "monitoring", "payments", "shop"]
DEMO_NODES = ["node-a1", "node-a2", "node-b1", "node-b2", "node-c1", "node-c2"]


# ---- 1. every kind the twin serves, listed through the typed API ----

def list_namespaces():
    lst = core.list_namespace()
    typed(lst, client.V1NamespaceList, client.V1Namespace)
    expect(names(lst) == DEMO_NAMESPACES, "namespaces %s" % names(lst))
    expect(find(lst, "payments").metadata.labels.get("airlock.dev/tier") == "critical", "payments is not critical")


def list_nodes():
    lst = core.list_node()
    typed(lst, client.V1NodeList, client.V1Node)
    expect(names(lst) == DEMO_NODES, "nodes %s" % names(lst))
    taints = find(lst, "node-c1").spec.taints or []
    expect([t.key for t in taints] == ["dedicated"], "node-c1 taints %s" % taints)


def list_pods_all():
    lst = core.list_pod_for_all_namespaces()
    typed(lst, client.V1PodList, client.V1Pod)
    has(lst, "payments/postgres-0", "shop/redis-0", "shop/redis-1", "shop/redis-2")
    expect({i.metadata.namespace for i in lst.items} == {"analytics", "kube-system", "monitoring", "payments", "shop"},
           "namespaces of the pods: %s" % {i.metadata.namespace for i in lst.items})
    bad = [p.metadata.name for p in lst.items if p.status.phase != "Running" or p.spec.node_name not in DEMO_NODES]
    expect(not bad, "pods not Running on a demo node: %s" % bad)


def list_pods_namespace():
    lst = core.list_namespaced_pod("shop")
    typed(lst, client.V1PodList, client.V1Pod)
    expect({i.metadata.namespace for i in lst.items} == {"shop"}, "pods of other namespaces")
    want = sum(d.spec.replicas for d in apps.list_namespaced_deployment("shop").items) + \
        sum(s.spec.replicas for s in apps.list_namespaced_stateful_set("shop").items)
    expect(len(lst.items) == want, "%d pods in shop, its workloads want %d" % (len(lst.items), want))
    has(lst, "redis-0", "redis-1", "redis-2")
    expect(all(c.ready for p in lst.items for c in p.status.container_statuses or [None]),
           "a pod without ready container statuses")


def list_services():
    lst = core.list_service_for_all_namespaces()
    typed(lst, client.V1ServiceList, client.V1Service)
    has(lst, "shop/frontend", "shop/cart", "shop/catalog", "shop/checkout", "shop/redis", "payments/postgres")
    expect(find(lst, "postgres", "payments").spec.cluster_ip == "None", "payments/postgres is not headless")
    expect(len(core.list_namespaced_service("shop").items) == 5, "shop does not have 5 services")


def list_endpoints():
    lst = core.list_endpoints_for_all_namespaces()
    typed(lst, client.V1EndpointsList, client.V1Endpoints)
    cart = find(lst, "cart", "shop")
    n = sum(len(s.addresses or []) for s in cart.subsets or [])
    expect(n == 2, "shop/cart endpoints have %d addresses, not 2 (its replicas)" % n)


def list_configmaps():
    lst = core.list_config_map_for_all_namespaces()
    typed(lst, client.V1ConfigMapList, client.V1ConfigMap)
    has(lst, "payments/api-config", "shop/frontend-config")
    expect(find(lst, "frontend-config", "shop").data, "shop/frontend-config has no data")


def list_pvs():
    typed(core.list_persistent_volume(), client.V1PersistentVolumeList, client.V1PersistentVolume)


def list_pvcs():
    lst = core.list_persistent_volume_claim_for_all_namespaces()
    typed(lst, client.V1PersistentVolumeClaimList, client.V1PersistentVolumeClaim)
    has(lst, "payments/data-postgres-0", "payments/ledger-archive", "analytics/warehouse-scratch",
        "monitoring/prometheus-data")
    expect(find(lst, "ledger-archive", "payments").spec.storage_class_name == "gp3", "ledger-archive not gp3")


def list_service_accounts():
    lst = core.list_service_account_for_all_namespaces()
    typed(lst, client.V1ServiceAccountList, client.V1ServiceAccount)
    has(lst, "shop/shop-deployer")


def list_events():
    typed(core.list_event_for_all_namespaces(), client.CoreV1EventList, client.CoreV1Event)


def list_resource_quotas():
    typed(core.list_resource_quota_for_all_namespaces(), client.V1ResourceQuotaList, client.V1ResourceQuota)


def list_limit_ranges():
    typed(core.list_limit_range_for_all_namespaces(), client.V1LimitRangeList, client.V1LimitRange)


def list_deployments():
    lst = apps.list_deployment_for_all_namespaces()
    typed(lst, client.V1DeploymentList, client.V1Deployment)
    has(lst, "shop/cart", "shop/frontend", "payments/api", "payments/ledger", "monitoring/prometheus")
    cart = find(lst, "cart", "shop")
    expect(cart.spec.replicas == 2 and cart.status.ready_replicas == 2, "shop/cart is not 2/2")


def list_replica_sets():
    lst = apps.list_replica_set_for_all_namespaces()
    typed(lst, client.V1ReplicaSetList, client.V1ReplicaSet)
    owners = sorted("%s/%s" % (r.metadata.namespace, o.name) for r in lst.items
                    for o in r.metadata.owner_references or [] if o.kind == "Deployment")
    deployments = nsnames(apps.list_deployment_for_all_namespaces())
    expect(owners == deployments, "ReplicaSets' owners %s, deployments %s" % (owners, deployments))


def list_stateful_sets():
    lst = apps.list_stateful_set_for_all_namespaces()
    typed(lst, client.V1StatefulSetList, client.V1StatefulSet)
    expect(nsnames(lst) == ["payments/postgres", "shop/redis"], "statefulsets %s" % nsnames(lst))
    expect(find(lst, "redis", "shop").status.ready_replicas == 3, "shop/redis is not 3 ready")


def list_daemon_sets():
    lst = apps.list_daemon_set_for_all_namespaces()
    typed(lst, client.V1DaemonSetList, client.V1DaemonSet)
    ne = find(lst, "node-exporter", "monitoring")
    expect(ne.status.desired_number_scheduled == 6 and ne.status.number_ready == 6,
           "node-exporter status %s" % ne.status)


def list_controller_revisions():
    typed(apps.list_controller_revision_for_all_namespaces(), client.V1ControllerRevisionList,
          client.V1ControllerRevision)


def list_jobs():
    typed(batch.list_job_for_all_namespaces(), client.V1JobList, client.V1Job)


def list_cron_jobs():
    lst = batch.list_cron_job_for_all_namespaces()
    typed(lst, client.V1CronJobList, client.V1CronJob)
    expect(find(lst, "nightly-rollup", "analytics").spec.schedule == "0 2 * * *", "nightly-rollup's schedule")


class _Body:
    """What ApiClient.deserialize reads from a response: its data."""

    def __init__(self, doc):
        self.data = json.dumps(doc)


def list_hpas_v2():
    if hasattr(client, "AutoscalingV2Api"):
        lst = client.AutoscalingV2Api().list_horizontal_pod_autoscaler_for_all_namespaces()
        typed(lst, client.V2HorizontalPodAutoscalerList, client.V2HorizontalPodAutoscaler)
        hpa = find(lst, "frontend", "shop")
        api_version, spec, status = hpa.api_version, hpa.spec, hpa.status
    else:
        # python3-kubernetes 22.6 predates autoscaling/v2 (Kubernetes 1.23)
        # and has no AutoscalingV2Api: the v2 list is read through the
        # client's ApiClient, and each item's metadata and spec deserialized
        # into the v2beta2 models (the same schema); the status is read as
        # it is (v2beta2's model requires status.conditions, v2 does not)
        lst = api_client.call_api("/apis/autoscaling/v2/horizontalpodautoscalers", "GET",
                                  header_params={"Accept": "application/json"}, response_type="object",
                                  auth_settings=["BearerToken"], _return_http_data_only=True)
        expect(lst.get("kind") == "HorizontalPodAutoscalerList", "kind %s" % lst.get("kind"))
        items = [i for i in lst["items"] if i["metadata"]["name"] == "frontend"]
        expect(len(items) == 1, "shop/frontend not in %s" % [i["metadata"]["name"] for i in lst["items"]])
        hpa = items[0]
        api_version, status = hpa.get("apiVersion"), hpa.get("status") or {}
        meta = api_client.deserialize(_Body(hpa["metadata"]), "V1ObjectMeta")
        expect(meta.namespace == "shop" and meta.uid, "metadata %s" % meta)
        spec = api_client.deserialize(_Body(hpa["spec"]), "V2beta2HorizontalPodAutoscalerSpec")
        status = client.V2beta2HorizontalPodAutoscalerStatus(
            current_replicas=status.get("currentReplicas"), desired_replicas=status.get("desiredReplicas"),
            conditions=status.get("conditions") or [])
    expect(api_version == "autoscaling/v2", "apiVersion %s" % api_version)
    expect(spec.min_replicas == 2 and spec.max_replicas == 6, "frontend's bounds %s" % spec)
    expect(spec.scale_target_ref.name == "frontend", "scaleTargetRef %s" % spec.scale_target_ref)
    expect(spec.metrics[0].resource.target.average_utilization == 70, "frontend's metric %s" % spec.metrics)
    expect(status.current_replicas == 3 and status.desired_replicas == 3, "status %s" % status)


def list_hpas_v1():
    lst = client.AutoscalingV1Api().list_namespaced_horizontal_pod_autoscaler("shop")
    typed(lst, client.V1HorizontalPodAutoscalerList, client.V1HorizontalPodAutoscaler)
    hpa = find(lst, "frontend", "shop")
    expect(hpa.api_version == "autoscaling/v1" and hpa.spec.target_cpu_utilization_percentage == 70,
           "an autoscaling/v1 list answered with apiVersion %s and targetCPUUtilizationPercentage %s "
           "(the HPA's CPU target is averageUtilization 70)" % (hpa.api_version,
                                                                 hpa.spec.target_cpu_utilization_percentage))
    expect(hpa.spec.min_replicas == 2 and hpa.spec.max_replicas == 6, "frontend's bounds %s" % hpa.spec)


def list_pdbs():
    lst = policy.list_pod_disruption_budget_for_all_namespaces()
    typed(lst, client.V1PodDisruptionBudgetList, client.V1PodDisruptionBudget)
    pdb = find(lst, "api", "payments")
    expect(pdb.spec.min_available == 2, "payments/api minAvailable %s" % pdb.spec.min_available)
    # what a drain or an agent reads before disrupting: 3 pods, 2 must stay, 1 may go
    expect(pdb.status is not None, "payments/api has no status (currentHealthy, desiredHealthy, "
           "disruptionsAllowed, expectedPods: 3 pods with minAvailable 2 allow 1 disruption)")
    expect((pdb.status.expected_pods, pdb.status.current_healthy, pdb.status.desired_healthy,
            pdb.status.disruptions_allowed) == (3, 3, 2, 1), "status %s" % pdb.status)


def list_network_policies():
    lst = net.list_network_policy_for_all_namespaces()
    typed(lst, client.V1NetworkPolicyList, client.V1NetworkPolicy)
    expect(len(lst.items) == 5, "%d network policies, not 5" % len(lst.items))
    has(lst, "payments/default-deny-ingress", "shop/cart-ingress")


def list_ingresses():
    lst = net.list_ingress_for_all_namespaces()
    typed(lst, client.V1IngressList, client.V1Ingress)
    expect(find(lst, "storefront", "shop").spec.rules[0].host == "shop.example.com", "storefront's host")


def list_roles():
    lst = rbac.list_role_for_all_namespaces()
    typed(lst, client.V1RoleList, client.V1Role)
    has(lst, "shop/deployer")


def list_role_bindings():
    lst = rbac.list_role_binding_for_all_namespaces()
    typed(lst, client.V1RoleBindingList, client.V1RoleBinding)
    expect(find(lst, "shop-deployer", "shop").role_ref.name == "deployer", "shop-deployer's roleRef")


def list_cluster_roles():
    lst = rbac.list_cluster_role()
    typed(lst, client.V1ClusterRoleList, client.V1ClusterRole)
    has(lst, "cluster-admin", "view", "break-glass", "impersonator")


def list_cluster_role_bindings():
    typed(rbac.list_cluster_role_binding(), client.V1ClusterRoleBindingList, client.V1ClusterRoleBinding)


def list_priority_classes():
    typed(sched.list_priority_class(), client.V1PriorityClassList, client.V1PriorityClass)


def list_storage_classes():
    typed(storage.list_storage_class(), client.V1StorageClassList, client.V1StorageClass)


def list_leases():
    typed(coord.list_lease_for_all_namespaces(), client.V1LeaseList, client.V1Lease)


LISTS = [
    ("CoreV1 namespaces", list_namespaces),
    ("CoreV1 nodes", list_nodes),
    ("CoreV1 pods in all namespaces", list_pods_all),
    ("CoreV1 pods in one namespace", list_pods_namespace),
    ("CoreV1 services", list_services),
    ("CoreV1 endpoints", list_endpoints),
    ("CoreV1 configmaps", list_configmaps),
    ("CoreV1 persistent volumes", list_pvs),
    ("CoreV1 persistent volume claims", list_pvcs),
    ("CoreV1 service accounts", list_service_accounts),
    ("CoreV1 events", list_events),
    ("CoreV1 resource quotas", list_resource_quotas),
    ("CoreV1 limit ranges", list_limit_ranges),
    ("AppsV1 deployments", list_deployments),
    ("AppsV1 replica sets", list_replica_sets),
    ("AppsV1 stateful sets", list_stateful_sets),
    ("AppsV1 daemon sets", list_daemon_sets),
    ("AppsV1 controller revisions", list_controller_revisions),
    ("BatchV1 jobs", list_jobs),
    ("BatchV1 cron jobs", list_cron_jobs),
    ("AutoscalingV2 horizontal pod autoscalers", list_hpas_v2),
    ("AutoscalingV1 horizontal pod autoscalers: autoscaling/v1 objects", list_hpas_v1),
    ("PolicyV1 pod disruption budgets", list_pdbs),
    ("NetworkingV1 network policies", list_network_policies),
    ("NetworkingV1 ingresses", list_ingresses),
    ("RbacAuthorizationV1 roles", list_roles),
    ("RbacAuthorizationV1 role bindings", list_role_bindings),
    ("RbacAuthorizationV1 cluster roles", list_cluster_roles),
    ("RbacAuthorizationV1 cluster role bindings", list_cluster_role_bindings),
    ("SchedulingV1 priority classes", list_priority_classes),
    ("StorageV1 storage classes", list_storage_classes),
    ("CoordinationV1 leases", list_leases),
]


# ---- 1b. the kinds the demo holds none of: one made, listed back as its model, deleted ----

M = client.V1ObjectMeta
R = client.V1ResourceRequirements


def job_body():
    return client.V1Job(metadata=M(name="pyclient-job"), spec=client.V1JobSpec(
        backoff_limit=0, template=client.V1PodTemplateSpec(
            metadata=M(labels={"app": "pyclient-job"}),
            spec=client.V1PodSpec(restart_policy="Never", containers=[client.V1Container(
                name="main", image="registry.example.com/analytics/rollup:0.9.1",
                resources=R(requests={"cpu": "10m", "memory": "16Mi"}))]))))


# (what, create, list, delete, name, namespace, a check of the listed item)
MADE = [
    ("PersistentVolume",
     lambda: core.create_persistent_volume(client.V1PersistentVolume(
         metadata=M(name="pyclient-pv"), spec=client.V1PersistentVolumeSpec(
             capacity={"storage": "1Gi"}, access_modes=["ReadWriteOnce"], storage_class_name="gp3",
             csi=client.V1CSIPersistentVolumeSource(driver="ebs.csi.aws.com", volume_handle="vol-0pyclient")))),
     core.list_persistent_volume, core.delete_persistent_volume, "pyclient-pv", None,
     lambda o: o.spec.capacity == {"storage": "1Gi"}),
    ("Event",
     lambda: core.create_namespaced_event("shop", client.CoreV1Event(
         metadata=M(name="pyclient-event"), reason="Tested", message="from the Python client", type="Normal",
         involved_object=client.V1ObjectReference(kind="Deployment", namespace="shop", name="cart"))),
     core.list_event_for_all_namespaces, lambda n: core.delete_namespaced_event(n, "shop"), "pyclient-event",
     "shop", lambda o: o.involved_object.name == "cart" and o.reason == "Tested"),
    ("ResourceQuota",
     lambda: core.create_namespaced_resource_quota("analytics", client.V1ResourceQuota(
         metadata=M(name="pyclient-quota"), spec=client.V1ResourceQuotaSpec(hard={"pods": "100"}))),
     core.list_resource_quota_for_all_namespaces, lambda n: core.delete_namespaced_resource_quota(n, "analytics"),
     "pyclient-quota", "analytics", lambda o: o.spec.hard == {"pods": "100"}),
    ("LimitRange",
     lambda: core.create_namespaced_limit_range("analytics", client.V1LimitRange(
         metadata=M(name="pyclient-limits"), spec=client.V1LimitRangeSpec(limits=[client.V1LimitRangeItem(
             type="Container", default_request={"cpu": "50m"})]))),
     core.list_limit_range_for_all_namespaces, lambda n: core.delete_namespaced_limit_range(n, "analytics"),
     "pyclient-limits", "analytics", lambda o: o.spec.limits[0].default_request == {"cpu": "50m"}),
    ("ControllerRevision",
     lambda: apps.create_namespaced_controller_revision("analytics", client.V1ControllerRevision(
         metadata=M(name="pyclient-rev"), revision=3, data={"spec": {"template": {}}})),
     apps.list_controller_revision_for_all_namespaces,
     lambda n: apps.delete_namespaced_controller_revision(n, "analytics"), "pyclient-rev", "analytics",
     lambda o: o.revision == 3),
    ("Job",
     lambda: batch.create_namespaced_job("analytics", job_body()),
     batch.list_job_for_all_namespaces,
     lambda n: batch.delete_namespaced_job(n, "analytics", propagation_policy="Background"), "pyclient-job",
     "analytics", lambda o: o.spec.template.spec.containers[0].name == "main" and o.spec.backoff_limit == 0),
    ("ClusterRoleBinding",
     lambda: rbac.create_cluster_role_binding(client.V1ClusterRoleBinding(
         metadata=M(name="pyclient-view"),
         role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="view"),
         subjects=[client.V1Subject(kind="ServiceAccount", name="shop-deployer", namespace="shop")])),
     rbac.list_cluster_role_binding, rbac.delete_cluster_role_binding, "pyclient-view", None,
     lambda o: o.role_ref.name == "view" and o.subjects[0].name == "shop-deployer"),
    ("PriorityClass",
     lambda: sched.create_priority_class(client.V1PriorityClass(
         metadata=M(name="pyclient-high"), value=1000, description="from the Python client")),
     sched.list_priority_class, sched.delete_priority_class, "pyclient-high", None, lambda o: o.value == 1000),
    ("StorageClass",
     lambda: storage.create_storage_class(client.V1StorageClass(
         metadata=M(name="pyclient-sc"), provisioner="ebs.csi.aws.com", parameters={"type": "gp3"})),
     storage.list_storage_class, storage.delete_storage_class, "pyclient-sc", None,
     lambda o: o.provisioner == "ebs.csi.aws.com" and o.parameters == {"type": "gp3"}),
    ("Lease",
     lambda: coord.create_namespaced_lease("kube-system", client.V1Lease(
         metadata=M(name="pyclient-lease"), spec=client.V1LeaseSpec(holder_identity="ops-bot",
                                                                    lease_duration_seconds=15))),
     coord.list_lease_for_all_namespaces, lambda n: coord.delete_namespaced_lease(n, "kube-system"),
     "pyclient-lease", "kube-system", lambda o: o.spec.holder_identity == "ops-bot"),
]


def made_listed(create, lister, delete, name, namespace, field_ok):
    create()
    try:
        o = find(lister(), name, namespace)
        expect(field_ok(o), "the listed object's fields: %s" % o)
    finally:
        delete(name)
    lst = lister()
    expect(name not in names(lst), "%s still listed after its delete" % name)


# ---- 2. one object of several kinds, read ----

def read_deployment():
    d = apps.read_namespaced_deployment("cart", "shop")
    expect(isinstance(d, client.V1Deployment), type(d).__name__)
    expect(d.spec.selector.match_labels == {"app": "cart"}, "selector %s" % d.spec.selector)
    expect(d.spec.template.spec.containers[0].image == "registry.example.com/shop/cart:1.9.4",
           "image %s" % d.spec.template.spec.containers[0].image)
    expect(d.status.replicas == 2 and d.status.ready_replicas == 2, "status %s" % d.status)
    expect(d.metadata.uid and d.metadata.resource_version and d.metadata.creation_timestamp, "metadata %s" % d.metadata)


def read_node():
    n = core.read_node("node-c1")
    expect(n.metadata.labels.get("eks.amazonaws.com/nodegroup") == "database", "labels %s" % n.metadata.labels)
    expect(n.spec.taints[0].key == "dedicated" and n.spec.taints[0].effect == "NoSchedule", "taints %s" % n.spec.taints)
    expect(n.status.allocatable.get("cpu"), "no allocatable cpu")


def read_pod():
    p = core.read_namespaced_pod("postgres-0", "payments")
    expect(p.spec.node_name == "node-c1", "postgres-0 on %s, not the database node node-c1" % p.spec.node_name)
    expect(p.status.phase == "Running" and p.status.container_statuses[0].ready, "status %s" % p.status)
    expect(p.metadata.owner_references[0].kind == "StatefulSet", "owner %s" % p.metadata.owner_references)


def read_stateful_set():
    s = apps.read_namespaced_stateful_set("postgres", "payments")
    expect(s.spec.replicas == 1 and s.status.ready_replicas == 1, "postgres %s / %s" % (s.spec.replicas, s.status))
    expect(s.spec.volume_claim_templates[0].metadata.name == "data", "claim templates %s" % s.spec.volume_claim_templates)


def read_service():
    s = core.read_namespaced_service("api", "payments")
    expect(s.spec.selector == {"app": "api"} and s.spec.ports[0].port == 80, "spec %s" % s.spec)


def read_namespace():
    n = core.read_namespace("payments")
    expect(n.metadata.labels.get("airlock.dev/restricted") == "true", "labels %s" % n.metadata.labels)
    expect(n.status.phase == "Active", "phase %s" % n.status.phase)


def read_pvc():
    c = core.read_namespaced_persistent_volume_claim("data-postgres-0", "payments")
    expect(c.spec.storage_class_name == "gp3", "storage class %s" % c.spec.storage_class_name)
    expect(c.spec.resources.requests.get("storage"), "no storage request")


def read_cron_job():
    c = batch.read_namespaced_cron_job("nightly-rollup", "analytics")
    expect(c.spec.schedule == "0 2 * * *", "schedule %s" % c.spec.schedule)
    expect(c.spec.job_template.spec.template.spec.containers[0].image.endswith("rollup:0.9.1"), "image")


def read_pdb():
    p = policy.read_namespaced_pod_disruption_budget("api", "payments")
    expect(p.spec.min_available == 2 and p.spec.selector.match_labels == {"app": "api"}, "spec %s" % p.spec)


def read_ingress():
    i = net.read_namespaced_ingress("storefront", "shop")
    expect(i.spec.rules[0].host == "shop.example.com", "rules %s" % i.spec.rules)


def read_cluster_role():
    r = rbac.read_cluster_role("view")
    expect(any("pods" in (rule.resources or []) and "get" in rule.verbs for rule in r.rules), "rules %s" % r.rules)


def read_deployment_scale():
    s = apps.read_namespaced_deployment_scale("cart", "shop")
    expect(isinstance(s, client.V1Scale) and s.spec.replicas == 2 and s.status.replicas == 2, "scale %s" % s)


READS = [
    ("read_namespaced_deployment: selector, image, status, metadata", read_deployment),
    ("read_node: labels, taints, allocatable", read_node),
    ("read_namespaced_pod: scheduled on the tainted node, Running, owned by its StatefulSet", read_pod),
    ("read_namespaced_stateful_set: replicas and claim templates", read_stateful_set),
    ("read_namespaced_service: selector and ports", read_service),
    ("read_namespace: labels and phase", read_namespace),
    ("read_namespaced_persistent_volume_claim: class and request", read_pvc),
    ("read_namespaced_cron_job: schedule and job template", read_cron_job),
    ("read_namespaced_pod_disruption_budget: minAvailable and selector", read_pdb),
    ("read_namespaced_ingress: rules", read_ingress),
    ("read_cluster_role: rules", read_cluster_role),
    ("read_namespaced_deployment_scale: a V1Scale", read_deployment_scale),
]


# ---- 3. watches ----

def watch_pods():
    listed = names(core.list_namespaced_pod("payments"))
    events = list(watch.Watch().stream(core.list_namespaced_pod, "payments", timeout_seconds=3))
    expect(events, "no event")
    expect({e["type"] for e in events} == {"ADDED"}, "event types %s" % [e["type"] for e in events])
    expect(all(isinstance(e["object"], client.V1Pod) for e in events),
           "objects %s" % {type(e["object"]).__name__ for e in events})
    got = sorted(e["object"].metadata.name for e in events)
    expect(got == listed, "watched %s, listed %s" % (got, listed))


def watch_change():
    rv = core.list_namespaced_config_map("shop").metadata.resource_version
    events, errors = [], []

    def run():
        try:
            for e in watch.Watch().stream(core.list_namespaced_config_map, "shop", resource_version=rv,
                                          timeout_seconds=3):
                events.append((e["type"], e["object"]))
        except Exception as e:  # noqa: BLE001 -- reported by the check
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    core.create_namespaced_config_map("shop", client.V1ConfigMap(metadata=M(name="pyclient-watched"),
                                                                 data={"a": "1"}))
    core.delete_namespaced_config_map("pyclient-watched", "shop")
    t.join(15)
    expect(not t.is_alive(), "the watch did not end within 15 s (timeout_seconds=3)")
    if errors:
        raise errors[0]
    seen = [(typ, o.metadata.name) for typ, o in events]
    expect(seen == [("ADDED", "pyclient-watched"), ("DELETED", "pyclient-watched")],
           "events %s (the watch started at the list's resourceVersion %s)" % (seen, rv))
    expect(all(isinstance(o, client.V1ConfigMap) for _, o in events), "objects not V1ConfigMap")
    expect(events[0][1].data == {"a": "1"}, "ADDED object's data %s" % events[0][1].data)


# ---- 4. mutations through the typed API ----

def configmap_lifecycle():
    ns, name = "shop", "pyclient-cm"
    made = core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=M(name=name, labels={"app": "pyclient"}), data={"a": "1"}))
    expect(made.metadata.uid and made.metadata.resource_version and made.data == {"a": "1"}, "created %s" % made)
    patched = core.patch_namespaced_config_map(name, ns, {"metadata": {"labels": {"patched": "yes"}}})
    expect(patched.metadata.labels == {"app": "pyclient", "patched": "yes"}, "patched labels %s" %
           patched.metadata.labels)
    cur = core.read_namespaced_config_map(name, ns)
    cur.data["b"] = "2"
    replaced = core.replace_namespaced_config_map(name, ns, cur)
    expect(replaced.data == {"a": "1", "b": "2"}, "replaced data %s" % replaced.data)
    back = core.read_namespaced_config_map(name, ns)
    expect(back.data == {"a": "1", "b": "2"} and back.metadata.labels == {"app": "pyclient", "patched": "yes"},
           "read back %s %s" % (back.data, back.metadata.labels))
    expect(int(back.metadata.resource_version) > int(made.metadata.resource_version), "resourceVersion did not move")
    # a replace carrying the resourceVersion read before the last change: 409
    e = api_error(core.replace_namespaced_config_map, name, ns, cur)
    expect(e.status == 409 and status_of(e).get("reason") == "Conflict", "stale replace: %s %s" % (e.status, e.body))
    core.delete_namespaced_config_map(name, ns)
    e = api_error(core.read_namespaced_config_map, name, ns)
    expect(e.status == 404 and status_of(e).get("reason") == "NotFound", "read after delete: %s %s" %
           (e.status, e.body))


def scale_deployment():
    ns, name = "shop", "cart"
    d = apps.read_namespaced_deployment(name, ns)
    sel = d.spec.selector.match_labels
    before = sorted(p.metadata.name for p in pods_of(ns, sel))
    expect(len(before) == 2, "cart has %d pods before" % len(before))
    s = apps.patch_namespaced_deployment_scale(name, ns, {"spec": {"replicas": 3}})
    expect(isinstance(s, client.V1Scale) and s.spec.replicas == 3, "scale answer %s" % s)

    def running(n):
        pods = pods_of(ns, sel)
        return len(pods) == n and all(p.status.phase == "Running" for p in pods)
    expect(until(lambda: running(3)), "pods %s after scaling to 3" %
           [(p.metadata.name, p.status.phase) for p in pods_of(ns, sel)])
    after = sorted(p.metadata.name for p in pods_of(ns, sel))
    expect(set(before) < set(after), "the old pods %s are not all among %s" % (before, after))
    expect(until(lambda: apps.read_namespaced_deployment(name, ns).status.ready_replicas == 3),
           "deployment status %s" % apps.read_namespaced_deployment(name, ns).status)
    rs = apps.list_namespaced_replica_set(ns, label_selector="app=cart").items
    expect([r.spec.replicas for r in rs] == [3], "replica sets' replicas %s" % [r.spec.replicas for r in rs])
    apps.patch_namespaced_deployment_scale(name, ns, {"spec": {"replicas": 2}})
    expect(until(lambda: running(2)), "pods %s after scaling back to 2" %
           [p.metadata.name for p in pods_of(ns, sel)])


def dry_run():
    ns = "shop"
    labels = {"app": "pyclient-dry"}
    dep = client.V1Deployment(metadata=M(name="pyclient-dry"), spec=client.V1DeploymentSpec(
        replicas=2, selector=client.V1LabelSelector(match_labels=labels),
        template=client.V1PodTemplateSpec(metadata=M(labels=labels), spec=client.V1PodSpec(containers=[
            client.V1Container(name="web", image="registry.example.com/shop/cart:1.9.4",
                               resources=R(requests={"cpu": "10m", "memory": "16Mi"}))]))))
    got = apps.create_namespaced_deployment(ns, dep, dry_run="All")
    expect(isinstance(got, client.V1Deployment) and got.metadata.name == "pyclient-dry", "answer %s" % got)
    cm = core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=M(name="pyclient-dry"), data={"a": "1"}),
                                           dry_run="All")
    expect(cm.data == {"a": "1"}, "answer %s" % cm)
    expect(gone(apps.read_namespaced_deployment, "pyclient-dry", ns), "the dry-run Deployment exists")
    expect(gone(core.read_namespaced_config_map, "pyclient-dry", ns), "the dry-run ConfigMap exists")
    left = [p.metadata.name for p in pods_of(ns, labels)] + \
        [r.metadata.name for r in apps.list_namespaced_replica_set(ns, label_selector="app=pyclient-dry").items]
    expect(not left, "the dry run left %s" % left)


# ---- 5. eviction ----

def eviction():
    ns, sel = "shop", {"app": "catalog"}
    before = sorted(p.metadata.name for p in pods_of(ns, sel))
    expect(len(before) == 2, "catalog has %s" % before)
    victim = before[0]
    core.create_namespaced_pod_eviction(victim, ns, client.V1Eviction(metadata=M(name=victim, namespace=ns)))
    expect(until(lambda: gone(core.read_namespaced_pod, victim, ns)), "%s is still there" % victim)

    def replaced():
        now = sorted(p.metadata.name for p in pods_of(ns, sel))
        return len(now) == 2 and victim not in now
    expect(until(replaced), "catalog's pods %s after evicting %s" %
           (sorted(p.metadata.name for p in pods_of(ns, sel)), victim))


# ---- 6. log ----

def pod_log():
    pod = pods_of("shop", {"app": "frontend"})[0].metadata.name
    log = core.read_namespaced_pod_log(pod, "shop")
    expect(isinstance(log, str), "a %s, not a str: %r" % (type(log).__name__, log))
    log = core.read_namespaced_pod_log(pod, "shop", container="frontend", tail_lines=10)
    expect(isinstance(log, str), "a %s, not a str: %r" % (type(log).__name__, log))


# ---- 7. refusals ----

def refused_namespace_delete():
    e = api_error(core.delete_namespace, "payments")
    st = status_of(e)
    msg = st.get("message", "")
    expect(e.status == 403 and st.get("code") == 403 and st.get("reason") == "Forbidden",
           "status %s, body %s" % (e.status, e.body))
    expect(msg.startswith("airlock: denied") and "blast-radius" in msg, "message %r" % msg)
    expect(core.read_namespace("payments").status.phase == "Active", "payments is not Active any more")


def refused_secret_read():
    e = api_error(core.read_namespaced_secret, "db-credentials", "payments")
    st = status_of(e)
    msg = st.get("message", "")
    expect(e.status == 403 and st.get("kind") == "Status", "status %s, body %s" % (e.status, e.body))
    expect(msg.startswith("airlock: denied by data-protection") and "reading Secrets is not allowed" in msg,
           "message %r" % msg)
    e = api_error(core.list_namespaced_secret, "shop")
    msg = status_of(e).get("message", "")
    expect(e.status == 403 and msg.startswith("airlock: denied by data-protection"),
           "list: %s %s" % (e.status, e.body))


# ---- 8. who am I, what may I do ----

def self_subject_review():
    r = client.AuthenticationV1Api().create_self_subject_review(client.V1SelfSubjectReview())
    expect(r.status.user_info.username == "ops-bot", "user %s" % r.status.user_info)


def access_review(verb, resource, group, namespace):
    return client.AuthorizationV1Api().create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            verb=verb, resource=resource, group=group, namespace=namespace))))


def access_secrets():
    r = access_review("get", "secrets", "", "payments")
    expect(isinstance(r, client.V1SelfSubjectAccessReview), type(r).__name__)
    expect(r.status.allowed is False, "allowed %s (%s)" % (r.status.allowed, r.status.reason))
    expect("read_secrets" in (r.status.reason or ""), "reason %r" % r.status.reason)


def access_patch_deployments():
    r = access_review("patch", "deployments", "apps", "shop")
    expect(r.status.allowed is True, "allowed %s (%s)" % (r.status.allowed, r.status.reason))
    expect("polic" in (r.status.reason or ""), "reason %r does not mention the policies" % r.status.reason)


# ---- 9. still serving ----

def version():
    v = client.VersionApi().get_code()
    expect(v.major == "1" and v.minor.startswith("32") and v.git_version.startswith("v1.32"), "version %s" % v)


def main():
    if not hasattr(client, "AutoscalingV2Api"):
        print("# python3-kubernetes %s has no AutoscalingV2Api: autoscaling/v2 is listed through its ApiClient, "
              "metadata and spec deserialized into its models (V1ObjectMeta, V2beta2HorizontalPodAutoscalerSpec)" %
              __import__("kubernetes").__version__)
    for name, fn in LISTS:
        check("list " + name + " (typed models)", fn)
    for what, create, lister, delete, name, namespace, field_ok in MADE:
        check("one %s made through the typed API, listed back as its model, deleted" % what, made_listed,
              create, lister, delete, name, namespace, field_ok)
    for name, fn in READS:
        check(name, fn)
    check("watch pods of a namespace (timeout_seconds=3): a typed ADDED event for each pod", watch_pods)
    check("watch from a list's resourceVersion in a thread: the ADDED and DELETED of a ConfigMap made meanwhile",
          watch_change)
    check("ConfigMap: create, patch labels, replace, read back, stale replace 409, delete, then read 404",
          configmap_lifecycle)
    check("patch_namespaced_deployment_scale: the replica set and pods follow, and back", scale_deployment)
    check("dry_run=All creates of a Deployment and a ConfigMap leave nothing behind", dry_run)
    check("create_namespaced_pod_eviction: the evicted pod is gone, its controller replaces it", eviction)
    check("read_namespaced_pod_log returns a str", pod_log)
    check("delete_namespace payments: ApiException 403, airlock: denied by blast-radius; still there",
          refused_namespace_delete)
    check("read and list Secrets without read_secrets: ApiException 403, denied by data-protection",
          refused_secret_read)
    if hasattr(client.AuthenticationV1Api, "create_self_subject_review") and hasattr(client, "V1SelfSubjectReview"):
        check("AuthenticationV1Api.create_self_subject_review names ops-bot", self_subject_review)
    else:
        skip("SelfSubjectReview: python3-kubernetes %s has no AuthenticationV1Api.create_self_subject_review "
             "(authentication.k8s.io/v1 SelfSubjectReview came with Kubernetes 1.28)" %
             __import__("kubernetes").__version__)
    check("create_self_subject_access_review: get secrets not allowed (no read_secrets)", access_secrets)
    check("create_self_subject_access_review: patch deployments allowed, judged by the policies",
          access_patch_deployments)
    check("VersionApi().get_code(): Kubernetes 1.32", version)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

/*
 * tests/test_table.c - unit tests for gate/table: the meta.k8s.io/v1 Table
 * `kubectl get` receives, kind by kind.
 *
 * The cases are data: a kind, an object (JSON with ' for " so it reads
 * cleanly), the expected columns ("Name|Data|Age", a trailing * marks a
 * priority-1 -o wide column) and the expected cells of its row as compact
 * JSON. Every age is measured from NOW, so the output is deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gate/kube/table.h"
#include "twin/twin.h"
#include "twin/util.h"

#define NOW ((time_t)1735732800)   /* 2025-01-01T12:00:00Z */

/* JSON text with ' for ". */
static json_t *js(const char *text)
{
    char *s = twin_xstrdup(text);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t je;
    json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
    if (!j)
        fail_msg("bad test JSON %s: %s", s, je.text);
    free(s);
    return j;
}

static json_t *table(const char *kind, const char *object)
{
    json_t *o = js(object);
    json_t *t = gate_table_at(kind, o, NOW);
    json_decref(o);
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(t, "kind")), "Table");
    assert_string_equal(json_string_value(json_object_get(t, "apiVersion")), "meta.k8s.io/v1");
    return t;
}

/* "Name|Data|Age", with * after a priority-1 column. Caller frees. */
static char *column_names(const json_t *t)
{
    twin_buf b = {0};
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(t, "columnDefinitions"), i, c) {
        twin_buf_addf(&b, "%s%s%s", i ? "|" : "", json_string_value(json_object_get(c, "name")),
                      json_integer_value(json_object_get(c, "priority")) == 1 ? "*" : "");
    }
    return b.s ? b.s : twin_xstrdup("");
}

static const json_t *row_at(const json_t *t, size_t i) { return json_array_get(json_object_get(t, "rows"), i); }

/* The cells of row i as compact JSON. Caller frees. */
static char *cells(const json_t *t, size_t i)
{
    return json_dumps(json_object_get(row_at(t, i), "cells"), JSON_COMPACT | JSON_ENCODE_ANY);
}

static void check(const char *kind, const char *object, const char *want_columns, const char *want_cells)
{
    json_t *t = table(kind, object);
    char *cols = column_names(t), *got = cells(t, 0);
    if (strcmp(cols, want_columns) || strcmp(got, want_cells))
        print_error("%s %s\n  columns %s\n  cells   %s\n", kind, object, cols, got);
    assert_string_equal(cols, want_columns);
    assert_string_equal(got, want_cells);
    assert_int_equal(json_array_size(json_object_get(t, "rows")), 1);
    assert_int_equal(json_array_size(json_object_get(row_at(t, 0), "cells")),
                     json_array_size(json_object_get(t, "columnDefinitions")));
    free(cols);
    free(got);
    json_decref(t);
}

#define META(name) "'metadata':{'name':'" name "','namespace':'default','creationTimestamp':'2025-01-01T11:55:00Z'}"

static void test_config_and_secrets(void **state)
{
    (void)state;
    check("ConfigMap", "{" META("app-config") ",'data':{'a':'1','b':'2'}}", "Name|Data|Age", "[\"app-config\",2,\"5m\"]");
    check("ConfigMap", "{" META("bin") ",'data':{'a':'1'},'binaryData':{'b':'AA=='}}", "Name|Data|Age",
          "[\"bin\",2,\"5m\"]");
    check("Secret",
          "{'metadata':{'name':'tls','creationTimestamp':'2024-12-31T12:00:00Z'},'type':'kubernetes.io/tls',"
          "'data':{'tls.crt':'eA==','tls.key':'eQ=='}}",
          "Name|Type|Data|Age", "[\"tls\",\"kubernetes.io/tls\",2,\"24h\"]");
    check("ServiceAccount", "{" META("default") ",'secrets':[{'name':'default-token'}]}", "Name|Secrets|Age",
          "[\"default\",1,\"5m\"]");
}

static void test_jobs(void **state)
{
    (void)state;
    const char *cols = "Name|Status|Completions|Duration|Age|Containers*|Images*|Selector*";
    check("Job",
          "{'metadata':{'name':'migrate','creationTimestamp':'2025-01-01T11:50:00Z'},"
          "'spec':{'completions':3,'parallelism':1,'selector':{'matchLabels':{'batch.kubernetes.io/controller-uid':"
          "'abc'}},'template':{'spec':{'containers':[{'name':'migrate','image':'app:1.2'}]}}},"
          "'status':{'succeeded':1,'active':1,'startTime':'2025-01-01T11:50:00Z'}}",
          cols, "[\"migrate\",\"Running\",\"1/3\",\"10m\",\"10m\",\"migrate\",\"app:1.2\","
                "\"batch.kubernetes.io/controller-uid=abc\"]");
    check("Job",
          "{'metadata':{'name':'backup','creationTimestamp':'2024-12-30T12:00:00Z'},'spec':{},"
          "'status':{'succeeded':1,'startTime':'2025-01-01T11:00:00Z','completionTime':'2025-01-01T11:01:30Z',"
          "'conditions':[{'type':'Complete','status':'True'}]}}",
          cols, "[\"backup\",\"Complete\",\"1/1\",\"90s\",\"2d\",\"\",\"\",\"<none>\"]");
    check("Job",
          "{" META("batch") ",'spec':{'parallelism':2,'suspend':true},"
          "'status':{'conditions':[{'type':'Suspended','status':'True'}]}}",
          cols, "[\"batch\",\"Suspended\",\"0/1 of 2\",\"\",\"5m\",\"\",\"\",\"<none>\"]");
    check("Job",
          "{" META("bad") ",'spec':{'completions':1},'status':{'failed':3,'conditions':["
          "{'type':'FailureTarget','status':'True'},{'type':'Failed','status':'True'}]}}",
          cols, "[\"bad\",\"Failed\",\"0/1\",\"\",\"5m\",\"\",\"\",\"<none>\"]");
    check("CronJob",
          "{'metadata':{'name':'report','creationTimestamp':'2024-12-01T12:00:00Z'},"
          "'spec':{'schedule':'*/5 * * * *','suspend':false,'jobTemplate':{'spec':{'template':{'spec':"
          "{'containers':[{'name':'report','image':'busybox'}]}}}}},"
          "'status':{'active':[{'name':'report-1'}],'lastScheduleTime':'2025-01-01T11:55:00Z'}}",
          "Name|Schedule|Timezone|Suspend|Active|Last Schedule|Age|Containers*|Images*|Selector*",
          "[\"report\",\"*/5 * * * *\",\"<none>\",\"False\",1,\"5m\",\"31d\",\"report\",\"busybox\",\"<none>\"]");
    check("CronJob", "{" META("tz") ",'spec':{'schedule':'0 3 * * *','timeZone':'Europe/Paris'}}",
          "Name|Schedule|Timezone|Suspend|Active|Last Schedule|Age|Containers*|Images*|Selector*",
          "[\"tz\",\"0 3 * * *\",\"Europe/Paris\",\"<unset>\",0,\"<none>\",\"5m\",\"\",\"\",\"<none>\"]");
}

static void test_autoscaling_and_budgets(void **state)
{
    (void)state;
    const char *cols = "Name|Reference|Targets|MinPods|MaxPods|Replicas|Age";
    check("HorizontalPodAutoscaler",
          "{" META("web") ",'spec':{'scaleTargetRef':{'apiVersion':'apps/v1','kind':'Deployment','name':'web'},"
          "'minReplicas':2,'maxReplicas':10,'metrics':[{'type':'Resource','resource':{'name':'cpu','target':"
          "{'type':'Utilization','averageUtilization':80}}}]},"
          "'status':{'currentReplicas':3,'currentMetrics':[{'type':'Resource','resource':{'name':'cpu','current':"
          "{'averageUtilization':45,'averageValue':'180m'}}}]}}",
          cols, "[\"web\",\"Deployment/web\",\"cpu: 45%/80%\",\"2\",10,3,\"5m\"]");
    check("HorizontalPodAutoscaler",
          "{" META("api") ",'spec':{'scaleTargetRef':{'kind':'StatefulSet','name':'api'},'maxReplicas':5,"
          "'metrics':[{'type':'Resource','resource':{'name':'cpu','target':{'type':'Utilization',"
          "'averageUtilization':80}}},{'type':'Resource','resource':{'name':'memory','target':{'type':"
          "'AverageValue','averageValue':'500Mi'}}},{'type':'Pods','pods':{'metric':{'name':'rps'},'target':"
          "{'type':'AverageValue','averageValue':'100'}}}]}}",
          cols, "[\"api\",\"StatefulSet/api\",\"cpu: <unknown>/80%, memory: <unknown>/500Mi + 1 more...\","
                "\"<unset>\",5,0,\"5m\"]");
    check("HorizontalPodAutoscaler",
          "{" META("ext") ",'spec':{'scaleTargetRef':{'kind':'Deployment','name':'q'},'maxReplicas':4,"
          "'metrics':[{'type':'External','external':{'metric':{'name':'queue'},'target':{'type':'AverageValue',"
          "'averageValue':'30'}}}]},'status':{'currentMetrics':[{'type':'External','external':{'current':"
          "{'averageValue':'12'}}}]}}",
          cols, "[\"ext\",\"Deployment/q\",\"12/30 (avg)\",\"<unset>\",4,0,\"5m\"]");
    check("HorizontalPodAutoscaler", "{" META("none") ",'spec':{'scaleTargetRef':{'kind':'Deployment','name':'x'},"
          "'minReplicas':1,'maxReplicas':3}}",
          cols, "[\"none\",\"Deployment/x\",\"<none>\",\"1\",3,0,\"5m\"]");

    const char *pdb = "Name|Min Available|Max Unavailable|Allowed Disruptions|Age";
    check("PodDisruptionBudget", "{" META("web-pdb") ",'spec':{'minAvailable':2},'status':{'disruptionsAllowed':1}}",
          pdb, "[\"web-pdb\",\"2\",\"N/A\",1,\"5m\"]");
    check("PodDisruptionBudget", "{" META("db-pdb") ",'spec':{'maxUnavailable':'25%'}}", pdb,
          "[\"db-pdb\",\"N/A\",\"25%\",0,\"5m\"]");
}

static void test_workloads(void **state)
{
    (void)state;
    check("Deployment",
          "{" META("web") ",'spec':{'replicas':3,'selector':{'matchLabels':{'app':'web'}},'template':{'spec':"
          "{'containers':[{'name':'web','image':'nginx:1.27'},{'name':'sidecar','image':'envoy:1.30'}]}}},"
          "'status':{'readyReplicas':2,'updatedReplicas':3,'availableReplicas':2}}",
          "Name|Ready|Up-to-date|Available|Age|Containers*|Images*|Selector*",
          "[\"web\",\"2/3\",3,2,\"5m\",\"web,sidecar\",\"nginx:1.27,envoy:1.30\",\"app=web\"]");
    check("ReplicaSet",
          "{" META("web-abc") ",'spec':{'replicas':3,'selector':{'matchLabels':{'pod-template-hash':'abc','app':"
          "'web'}},'template':{'spec':{'containers':[{'name':'web','image':'nginx'}]}}},"
          "'status':{'replicas':3,'readyReplicas':3}}",
          "Name|Desired|Current|Ready|Age|Containers*|Images*|Selector*",
          "[\"web-abc\",3,3,3,\"5m\",\"web\",\"nginx\",\"app=web,pod-template-hash=abc\"]");
    check("StatefulSet",
          "{" META("db") ",'spec':{'replicas':3,'template':{'spec':{'containers':[{'name':'postgres','image':"
          "'postgres:16'}]}}},'status':{'readyReplicas':3}}",
          "Name|Ready|Age|Containers*|Images*", "[\"db\",\"3/3\",\"5m\",\"postgres\",\"postgres:16\"]");
    check("DaemonSet",
          "{" META("fluentd") ",'spec':{'selector':{'matchExpressions':[{'key':'app','operator':'In','values':"
          "['fluentd','logs']}]},'template':{'spec':{'nodeSelector':{'kubernetes.io/os':'linux'},"
          "'containers':[{'name':'fluentd','image':'fluentd:v1'}]}}},'status':{'desiredNumberScheduled':3,"
          "'currentNumberScheduled':3,'numberReady':2,'updatedNumberScheduled':3,'numberAvailable':2}}",
          "Name|Desired|Current|Ready|Up-to-date|Available|Node Selector|Age|Containers*|Images*|Selector*",
          "[\"fluentd\",3,3,2,3,2,\"kubernetes.io/os=linux\",\"5m\",\"fluentd\",\"fluentd:v1\","
          "\"app in (fluentd,logs)\"]");
    check("ControllerRevision",
          "{'metadata':{'name':'db-7f9c','creationTimestamp':'2025-01-01T11:55:00Z',"
          "'ownerReferences':[{'apiVersion':'apps/v1','kind':'StatefulSet','name':'db','controller':true}]},"
          "'revision':2}",
          "Name|Controller|Revision|Age", "[\"db-7f9c\",\"statefulset.apps/db\",2,\"5m\"]");
}

static void test_pods(void **state)
{
    (void)state;
    const char *cols = "Name|Ready|Status|Restarts|Age|IP*|Node*|Nominated Node*|Readiness Gates*";
    check("Pod",
          "{" META("web-1") ",'spec':{'nodeName':'node-1','containers':[{'name':'web'}]},'status':{'phase':"
          "'Running','podIP':'10.244.0.5','podIPs':[{'ip':'10.244.0.5'}],'conditions':[{'type':'Ready','status':"
          "'True'}],'containerStatuses':[{'name':'web','ready':true,'restartCount':0,'state':{'running':{}}}]}}",
          cols, "[\"web-1\",\"1/1\",\"Running\",\"0\",\"5m\",\"10.244.0.5\",\"node-1\",\"<none>\",\"<none>\"]");
    check("Pod",
          "{" META("web-2") ",'spec':{'containers':[{'name':'web'}],'readinessGates':[{'conditionType':'lb'}]},"
          "'status':{'phase':'Running','conditions':[{'type':'lb','status':'False'}],'containerStatuses':"
          "[{'name':'web','ready':false,'restartCount':4,'state':{'waiting':{'reason':'CrashLoopBackOff'}},"
          "'lastState':{'terminated':{'exitCode':1,'reason':'Error','finishedAt':'2025-01-01T11:58:00Z'}}}]}}",
          cols, "[\"web-2\",\"0/1\",\"CrashLoopBackOff\",\"4 (2m ago)\",\"5m\",\"<none>\",\"<none>\",\"<none>\","
                "\"0/1\"]");
    check("Pod",
          "{" META("web-3") ",'spec':{'initContainers':[{'name':'init'}],'containers':[{'name':'app'}]},"
          "'status':{'phase':'Pending','initContainerStatuses':[{'name':'init','state':{'running':{}}}]}}",
          cols, "[\"web-3\",\"0/1\",\"Init:0/1\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
    check("Pod",   /* a started sidecar counts in READY and TOTAL */
          "{" META("web-4") ",'spec':{'initContainers':[{'name':'proxy','restartPolicy':'Always'}],'containers':"
          "[{'name':'app'}]},'status':{'phase':'Running','conditions':[{'type':'Initialized','status':'True'}],"
          "'initContainerStatuses':[{'name':'proxy','started':true,'ready':true,'restartCount':1,'state':"
          "{'running':{}}}],'containerStatuses':[{'name':'app','ready':true,'state':{'running':{}}}]}}",
          cols, "[\"web-4\",\"2/2\",\"Running\",\"1\",\"5m\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
    check("Pod",
          "{'metadata':{'name':'web-5','creationTimestamp':'2025-01-01T11:55:00Z','deletionTimestamp':"
          "'2025-01-01T11:59:00Z'},'spec':{'containers':[{'name':'web'}]},'status':{'phase':'Running'}}",
          cols, "[\"web-5\",\"0/1\",\"Terminating\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
    check("Pod",
          "{" META("oom") ",'spec':{'containers':[{'name':'a'}]},'status':{'phase':'Running','containerStatuses':"
          "[{'name':'a','state':{'terminated':{'exitCode':137,'signal':9}}}]}}",
          cols, "[\"oom\",\"0/1\",\"Signal:9\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");

    /* Succeeded and Failed pods carry a Completed row condition; others none. */
    json_t *t = table("Pod", "[{" META("done") ",'spec':{'containers':[{'name':'j'}]},'status':{'phase':'Succeeded',"
                             "'containerStatuses':[{'name':'j','state':{'terminated':{'exitCode':0,'reason':"
                             "'Completed'}}}]}},{" META("live") ",'status':{'phase':'Running'}}]");
    char *c = cells(t, 0);
    assert_string_equal(c, "[\"done\",\"0/1\",\"Completed\",\"0\",\"5m\",\"<none>\",\"<none>\",\"<none>\",\"<none>\"]");
    free(c);
    const json_t *cond = json_array_get(json_object_get(row_at(t, 0), "conditions"), 0);
    assert_string_equal(json_string_value(json_object_get(cond, "type")), "Completed");
    assert_string_equal(json_string_value(json_object_get(cond, "status")), "True");
    assert_string_equal(json_string_value(json_object_get(cond, "reason")), "Succeeded");
    assert_null(json_object_get(row_at(t, 1), "conditions"));
    json_decref(t);
}

static void test_network(void **state)
{
    (void)state;
    const char *svc = "Name|Type|Cluster-IP|External-IP|Port(s)|Age|Selector*";
    check("Service",
          "{" META("web") ",'spec':{'type':'LoadBalancer','clusterIP':'10.96.0.10','clusterIPs':['10.96.0.10'],"
          "'ports':[{'port':80,'nodePort':30080,'protocol':'TCP'},{'port':443,'nodePort':30443,'protocol':'TCP'}],"
          "'selector':{'app':'web','tier':'front'}}}",
          svc, "[\"web\",\"LoadBalancer\",\"10.96.0.10\",\"<pending>\",\"80:30080/TCP,443:30443/TCP\",\"5m\","
               "\"app=web,tier=front\"]");
    check("Service",
          "{" META("lb") ",'spec':{'type':'LoadBalancer','clusterIPs':['10.96.0.11'],'ports':[{'port':53,"
          "'protocol':'UDP'}]},'status':{'loadBalancer':{'ingress':[{'ip':'34.1.2.3'},{'hostname':'lb.example.com'}"
          "]}}}",
          svc, "[\"lb\",\"LoadBalancer\",\"10.96.0.11\",\"34.1.2.3,lb.example.com\",\"53/UDP\",\"5m\",\"<none>\"]");
    check("Service", "{" META("headless") ",'spec':{'clusterIP':'None','clusterIPs':['None']}}", svc,
          "[\"headless\",\"ClusterIP\",\"None\",\"<none>\",\"<none>\",\"5m\",\"<none>\"]");
    check("Ingress",
          "{" META("web") ",'spec':{'ingressClassName':'nginx','rules':[{'host':'a.example.com'},{'host':"
          "'b.example.com'}],'tls':[{'hosts':['a.example.com']}]},'status':{'loadBalancer':{'ingress':[{'ip':"
          "'203.0.113.7'}]}}}",
          "Name|Class|Hosts|Address|Ports|Age",
          "[\"web\",\"nginx\",\"a.example.com,b.example.com\",\"203.0.113.7\",\"80, 443\",\"5m\"]");
    check("Ingress",
          "{" META("many") ",'spec':{'rules':[{'host':'a'},{'host':'b'},{'host':'c'},{'host':'d'},{}]}}",
          "Name|Class|Hosts|Address|Ports|Age", "[\"many\",\"<none>\",\"a,b,c + 2 more...\",\"\",\"80\",\"5m\"]");
    check("Endpoints",
          "{" META("web") ",'subsets':[{'addresses':[{'ip':'10.0.0.1'},{'ip':'10.0.0.2'},{'ip':'10.0.0.3'},"
          "{'ip':'10.0.0.4'}],'ports':[{'port':8080}]}]}",
          "Name|Endpoints|Age", "[\"web\",\"10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more...\",\"5m\"]");
    check("Endpoints", "{" META("empty") "}", "Name|Endpoints|Age", "[\"empty\",\"<none>\",\"5m\"]");
    check("NetworkPolicy", "{" META("deny-all") ",'spec':{'podSelector':{}}}", "Name|Pod-Selector|Age",
          "[\"deny-all\",\"<none>\",\"5m\"]");
    check("NetworkPolicy", "{" META("db") ",'spec':{'podSelector':{'matchLabels':{'role':'db'}}}}",
          "Name|Pod-Selector|Age", "[\"db\",\"role=db\",\"5m\"]");
}

static void test_storage(void **state)
{
    (void)state;
    const char *pvc = "Name|Status|Volume|Capacity|Access Modes|StorageClass|VolumeAttributesClass|Age|VolumeMode*";
    check("PersistentVolumeClaim",
          "{" META("data") ",'spec':{'volumeName':'pvc-123','storageClassName':'standard','volumeMode':'Filesystem',"
          "'accessModes':['ReadWriteOnce'],'resources':{'requests':{'storage':'5Gi'}}},"
          "'status':{'phase':'Bound','capacity':{'storage':'10Gi'},'accessModes':['ReadWriteOnce']}}",
          pvc, "[\"data\",\"Bound\",\"pvc-123\",\"10Gi\",\"RWO\",\"standard\",\"<unset>\",\"5m\",\"Filesystem\"]");
    check("PersistentVolumeClaim",
          "{" META("pending") ",'spec':{'storageClassName':'fast','resources':{'requests':{'storage':'5Gi'}}},"
          "'status':{'phase':'Pending'}}",
          pvc, "[\"pending\",\"Pending\",\"\",\"\",\"\",\"fast\",\"<unset>\",\"5m\",\"<unset>\"]");
    check("PersistentVolume",
          "{'metadata':{'name':'pvc-123','creationTimestamp':'2025-01-01T11:55:00Z'},'spec':{'capacity':{'storage':"
          "'10Gi'},'accessModes':['ReadWriteMany','ReadWriteOnce'],'persistentVolumeReclaimPolicy':'Delete',"
          "'storageClassName':'standard','claimRef':{'namespace':'default','name':'data'}},'status':{'phase':"
          "'Bound'}}",
          "Name|Capacity|Access Modes|Reclaim Policy|Status|Claim|StorageClass|VolumeAttributesClass|Reason|Age|"
          "VolumeMode*",
          "[\"pvc-123\",\"10Gi\",\"RWO,RWX\",\"Delete\",\"Bound\",\"default/data\",\"standard\",\"<unset>\",\"\","
          "\"5m\",\"<unset>\"]");
    check("StorageClass",
          "{'metadata':{'name':'local-path','creationTimestamp':'2025-01-01T11:55:00Z','annotations':"
          "{'storageclass.kubernetes.io/is-default-class':'true'}},'provisioner':'rancher.io/local-path',"
          "'volumeBindingMode':'WaitForFirstConsumer'}",
          "Name|Provisioner|ReclaimPolicy|VolumeBindingMode|AllowVolumeExpansion|Age",
          "[\"local-path (default)\",\"rancher.io/local-path\",\"Delete\",\"WaitForFirstConsumer\",false,\"5m\"]");
}

static void test_cluster_and_policy(void **state)
{
    (void)state;
    check("Node",
          "{'metadata':{'name':'cp-1','creationTimestamp':'2025-01-01T11:55:00Z','labels':{"
          "'node-role.kubernetes.io/control-plane':'','kubernetes.io/role':'master','kubernetes.io/os':'linux'}},"
          "'spec':{'unschedulable':true},'status':{'conditions':[{'type':'MemoryPressure','status':'False'},"
          "{'type':'Ready','status':'True'}],'addresses':[{'type':'InternalIP','address':'192.168.1.10'},"
          "{'type':'Hostname','address':'cp-1'}],'nodeInfo':{'kubeletVersion':'v1.32.1','osImage':'Ubuntu 24.04',"
          "'kernelVersion':'6.8.0','containerRuntimeVersion':'containerd://1.7.22'}}}",
          "Name|Status|Roles|Age|Version|Internal-IP*|External-IP*|OS-Image*|Kernel-Version*|Container-Runtime*",
          "[\"cp-1\",\"Ready,SchedulingDisabled\",\"control-plane,master\",\"5m\",\"v1.32.1\",\"192.168.1.10\","
          "\"<none>\",\"Ubuntu 24.04\",\"6.8.0\",\"containerd://1.7.22\"]");
    check("Node", "{'metadata':{'name':'new'}}",
          "Name|Status|Roles|Age|Version|Internal-IP*|External-IP*|OS-Image*|Kernel-Version*|Container-Runtime*",
          "[\"new\",\"Unknown\",\"<none>\",\"<unknown>\",\"\",\"<none>\",\"<none>\",\"<unknown>\",\"<unknown>\","
          "\"<unknown>\"]");
    check("Namespace", "{'metadata':{'name':'default','creationTimestamp':'2025-01-01T11:55:00Z'}}",
          "Name|Status|Age", "[\"default\",\"Active\",\"5m\"]");
    check("Event",
          "{" META("web-2.17f") ",'type':'Warning','reason':'BackOff','count':3,'message':"
          "'Back-off restarting failed container\\n','firstTimestamp':'2025-01-01T11:50:00Z','lastTimestamp':"
          "'2025-01-01T11:58:00Z','involvedObject':{'kind':'Pod','name':'web-2','fieldPath':'spec.containers{web}'},"
          "'source':{'component':'kubelet','host':'node-1'}}",
          "Last Seen|Type|Reason|Object|Subobject*|Source*|Message|First Seen*|Count*|Name*",
          "[\"2m\",\"Warning\",\"BackOff\",\"pod/web-2\",\"spec.containers{web}\",\"kubelet, node-1\","
          "\"Back-off restarting failed container\",\"10m\",3,\"web-2.17f\"]");
    check("Event",   /* events.k8s.io-style: eventTime, no count, reportingComponent */
          "{" META("x.1") ",'type':'Normal','reason':'Scheduled','message':'ok','eventTime':"
          "'2025-01-01T11:59:00.123456Z','reportingComponent':'default-scheduler','involvedObject':{'kind':'Pod',"
          "'name':'x'}}",
          "Last Seen|Type|Reason|Object|Subobject*|Source*|Message|First Seen*|Count*|Name*",
          "[\"60s\",\"Normal\",\"Scheduled\",\"pod/x\",\"\",\"default-scheduler\",\"ok\",\"60s\",1,\"x.1\"]");
    check("RoleBinding",
          "{" META("viewers") ",'roleRef':{'apiGroup':'rbac.authorization.k8s.io','kind':'ClusterRole','name':"
          "'view'},'subjects':[{'kind':'User','name':'alice'},{'kind':'Group','name':'devs'},{'kind':"
          "'ServiceAccount','namespace':'ci','name':'builder'},{'kind':'User','name':'bob'}]}",
          "Name|Role|Age|Users*|Groups*|ServiceAccounts*",
          "[\"viewers\",\"ClusterRole/view\",\"5m\",\"alice, bob\",\"devs\",\"ci/builder\"]");
    check("ClusterRoleBinding",
          "{'metadata':{'name':'admins','creationTimestamp':'2025-01-01T11:55:00Z'},'roleRef':{'kind':"
          "'ClusterRole','name':'cluster-admin'},'subjects':[{'kind':'Group','name':'system:masters'}]}",
          "Name|Role|Age|Users*|Groups*|ServiceAccounts*",
          "[\"admins\",\"ClusterRole/cluster-admin\",\"5m\",\"\",\"system:masters\",\"\"]");
    check("Role", "{" META("reader") ",'rules':[]}", "Name|Created At", "[\"reader\",\"2025-01-01T11:55:00Z\"]");
    check("ClusterRole", "{'metadata':{'name':'view','creationTimestamp':'2024-06-01T08:00:00Z'}}",
          "Name|Created At", "[\"view\",\"2024-06-01T08:00:00Z\"]");
    check("LimitRange", "{" META("limits") "}", "Name|Created At", "[\"limits\",\"2025-01-01T11:55:00Z\"]");
    check("ResourceQuota",
          "{" META("quota") ",'status':{'hard':{'pods':'10','requests.cpu':'4','limits.cpu':'8',"
          "'requests.memory':'8Gi'},'used':{'pods':'3','requests.cpu':'1500m'}}}",
          "Name|Request|Limit|Age",
          "[\"quota\",\"pods: 3/10, requests.cpu: 1500m/4, requests.memory: 0/8Gi\",\"limits.cpu: 0/8\",\"5m\"]");
    check("PriorityClass",
          "{'metadata':{'name':'high','creationTimestamp':'2025-01-01T11:55:00Z'},'value':1000000,"
          "'preemptionPolicy':'PreemptLowerPriority'}",
          "Name|Value|Global-Default|Age|PreemptionPolicy", "[\"high\",1000000,false,\"5m\",\"PreemptLowerPriority\"]");
    check("Lease", "{" META("node-1") ",'spec':{'holderIdentity':'node-1'}}", "Name|Holder|Age",
          "[\"node-1\",\"node-1\",\"5m\"]");
}

/* A kind without a printer (a CRD) keeps Name and Age, Age typed date. */
static void test_unknown_kind(void **state)
{
    (void)state;
    check("Widget", "{" META("w") ",'spec':{'size':3}}", "Name|Age", "[\"w\",\"5m\"]");
    json_t *t = table(NULL, "{" META("w") "}");
    const json_t *defs = json_object_get(t, "columnDefinitions");
    assert_string_equal(json_string_value(json_object_get(json_array_get(defs, 0), "format")), "name");
    assert_string_equal(json_string_value(json_object_get(json_array_get(defs, 1), "type")), "date");
    json_decref(t);
}

/* An array gives one row per object, each with its PartialObjectMetadata. */
static void test_list(void **state)
{
    (void)state;
    json_t *t = table("ConfigMap", "[{" META("a") ",'data':{'k':'v'}},{'metadata':{'name':'b','namespace':'kube-system',"
                                   "'creationTimestamp':'2025-01-01T09:00:00Z','labels':{'x':'y'}}}]");
    assert_int_equal(json_array_size(json_object_get(t, "rows")), 2);
    char *c0 = cells(t, 0), *c1 = cells(t, 1);
    assert_string_equal(c0, "[\"a\",1,\"5m\"]");
    assert_string_equal(c1, "[\"b\",0,\"3h\"]");
    free(c0);
    free(c1);
    const json_t *obj = json_object_get(row_at(t, 1), "object");
    assert_string_equal(json_string_value(json_object_get(obj, "kind")), "PartialObjectMetadata");
    assert_string_equal(json_string_value(json_object_get(obj, "apiVersion")), "meta.k8s.io/v1");
    const json_t *meta = json_object_get(obj, "metadata");
    assert_string_equal(json_string_value(json_object_get(meta, "namespace")), "kube-system");
    assert_string_equal(json_string_value(json_object_get(json_object_get(meta, "labels"), "x")), "y");
    json_decref(t);

    t = table("ConfigMap", "[]");
    assert_int_equal(json_array_size(json_object_get(t, "rows")), 0);
    assert_int_equal(json_array_size(json_object_get(t, "columnDefinitions")), 3);
    json_decref(t);
}

/* AGE is duration.HumanDuration of now - creationTimestamp. */
static void test_ages(void **state)
{
    (void)state;
    static const struct {
        long long ago;
        const char *want;
    } cases[] = {
        {0, "0s"},           {-1, "0s"},         {-5, "<invalid>"},      {59, "59s"},         {119, "119s"},
        {120, "2m"},         {125, "2m5s"},      {599, "9m59s"},         {600, "10m"},        {3 * 3600 - 1, "179m"},
        {3 * 3600, "3h"},    {12600, "3h30m"},   {8 * 3600 + 60, "8h"},  {47 * 3600, "47h"},  {48 * 3600, "2d"},
        {51 * 3600, "2d3h"}, {8 * 86400, "8d"},  {729 * 86400, "729d"}, {800 * 86400, "2y70d"},
        {730 * 86400, "2y"}, {9 * 365 * 86400LL, "9y"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        time_t t = NOW - (time_t)cases[i].ago;
        struct tm tm;
        char ts[32], obj[128];
        gmtime_r(&t, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(obj, sizeof obj, "{'metadata':{'name':'x','creationTimestamp':'%s'}}", ts);
        json_t *tab = table("Namespace", obj);
        const char *got = json_string_value(json_array_get(json_object_get(row_at(tab, 0), "cells"), 2));
        if (strcmp(got, cases[i].want))
            print_error("%lld seconds ago: got %s, want %s\n", cases[i].ago, got, cases[i].want);
        assert_string_equal(got, cases[i].want);
        json_decref(tab);
    }
    check("Namespace", "{'metadata':{'name':'x'}}", "Name|Status|Age", "[\"x\",\"Active\",\"<unknown>\"]");
    check("Namespace", "{'metadata':{'name':'x','creationTimestamp':'2025-01-01T12:55:00+01:00'}}", "Name|Status|Age",
          "[\"x\",\"Active\",\"5m\"]");
}

/* Every kind the twin knows: one cell per column, for an empty object and
 * for a bare one; the Name column (format name) is there exactly once. */
static void test_every_kind_is_consistent(void **state)
{
    (void)state;
    size_t n;
    const twin_kind *kinds = twin_kinds(&n);
    static const char *const objects[] = {"{}", "{'metadata':{'name':'x'},'spec':{},'status':{}}", "null"};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof objects / sizeof objects[0]; k++) {
            json_t *t = table(kinds[i].kind, objects[k]);
            const json_t *defs = json_object_get(t, "columnDefinitions");
            size_t names = 0, j;
            json_t *d;
            json_array_foreach(defs, j, d) {
                names += !strcmp(json_string_value(json_object_get(d, "format")), "name");
                assert_true(json_is_string(json_object_get(d, "type")));
                assert_true(json_is_string(json_object_get(d, "description")));
            }
            assert_int_equal(names, 1);
            const json_t *row0 = row_at(t, 0);
            if (strcmp(objects[k], "null")) {
                assert_int_equal(json_array_size(json_object_get(row0, "cells")), json_array_size(defs));
            }
            json_decref(t);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_and_secrets),
        cmocka_unit_test(test_jobs),
        cmocka_unit_test(test_autoscaling_and_budgets),
        cmocka_unit_test(test_workloads),
        cmocka_unit_test(test_pods),
        cmocka_unit_test(test_network),
        cmocka_unit_test(test_storage),
        cmocka_unit_test(test_cluster_and_policy),
        cmocka_unit_test(test_unknown_kind),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_ages),
        cmocka_unit_test(test_every_kind_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * aws_rds.c - RDS DB instances and DB snapshots in the twin.
 *
 * RDSDBInstance (metadata.name = DBInstanceIdentifier): describe-db-instances'
 * item (DBInstanceIdentifier, DBInstanceClass, Engine, DBInstanceStatus,
 * AllocatedStorage, StorageType, DeletionProtection, BackupRetentionPeriod,
 * MultiAZ, PubliclyAccessible, VpcSecurityGroups, TagList, DBInstanceArn,
 * and whatever else an import brings).  RDSDBSnapshot (DBSnapshotIdentifier):
 * describe-db-snapshots' item.
 *
 * Where the twin simplifies RDS (it has no RDS controller: a call's
 * outcome is its final state at once):
 *   - DeleteDBInstance removes the instance at once (AWS: "deleting" for
 *     minutes; the call's output still says "deleting"), and its final
 *     snapshot is "available" at once (AWS: "creating" first); the same
 *     for CreateDBSnapshot;
 *   - StopDBInstance gives "stopped", StartDBInstance and RebootDBInstance
 *     "available", at once (AWS: stopping, starting, rebooting first);
 *   - ModifyDBInstance with ApplyImmediately applies DBInstanceClass,
 *     AllocatedStorage, StorageType, MultiAZ and EngineVersion at once;
 *     without it they wait in PendingModifiedValues for a maintenance window
 *     the twin never reaches; DeletionProtection, BackupRetentionPeriod,
 *     PubliclyAccessible, VpcSecurityGroupIds, CopyTagsToSnapshot and
 *     AutoMinorVersionUpgrade apply at once, as in AWS.  A new master
 *     password is recorded as AWS shows it, PendingModifiedValues
 *     MasterUserPassword "****": the value is kept nowhere;
 *   - automated backups, read replicas, clusters, option and parameter
 *     groups are not modelled.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "twin/aws_int.h"

#define K_DB "RDSDBInstance"
#define K_SNAP "RDSDBSnapshot"

static int need(aws_ctx *c, const char *key, const char **out)
{
    *out = twin__aws_input_str(c, key);
    if (*out && **out)
        return 1;
    twin__aws_error(c, 400, "MissingParameter", "The request must contain the parameter %s", key);
    return 0;
}

/* The DB instance or snapshot (kind) id (a copy), or NULL with
 * DBInstanceNotFound / DBSnapshotNotFound set. */
static json_t *need_resource(aws_ctx *c, const char *kind, const char *id)
{
    json_t *d = twin__aws_doc_copy(c->t, kind, id);
    if (d)
        return d;
    if (!strcmp(kind, K_DB))
        twin__aws_error(c, 404, "DBInstanceNotFound", "DBInstance %s not found.", id);
    else
        twin__aws_error(c, 404, "DBSnapshotNotFound", "DBSnapshot %s not found.", id);
    return NULL;
}

/* The instance the call's DBInstanceIdentifier names (a copy), or NULL
 * with DBInstanceNotFound set. */
static json_t *need_instance(aws_ctx *c, const char **id)
{
    return need(c, "DBInstanceIdentifier", id) ? need_resource(c, K_DB, *id) : NULL;
}

static const char *status_of(const json_t *d)
{
    const char *s = twin__aws_str(d, "DBInstanceStatus");
    return s ? s : "available";
}

/* ---- reads ---- */

static int filter_match(const json_t *filters, const json_t *d, const char *const map[][2])
{
    size_t i, k;
    json_t *f, *v;
    json_array_foreach(filters, i, f) {
        const char *name = twin__aws_str(f, "Name"), *field = NULL;
        for (int m = 0; map[m][0]; m++)
            if (name && !strcmp(name, map[m][0]))
                field = map[m][1];
        if (!field)
            continue;   /* a filter the twin does not know keeps everything */
        const char *have = twin__aws_str(d, field);
        int any = 0;
        json_array_foreach(json_object_get(f, "Values"), k, v) any |= have && json_is_string(v) &&
                                                                    !strcmp(have, json_string_value(v));
        if (!any)
            return 0;
    }
    return 1;
}

/* DescribeDBInstances and DescribeDBSnapshots: the one the call's id_key
 * names, else every one of kind its Filters (map) keep; snapshots also by
 * the call's DBInstanceIdentifier and SnapshotType. */
static int describe_kind(aws_ctx *c, const char *kind, const char *id_key, const char *const map[][2],
                         const char *out_key)
{
    const char *id = twin__aws_input_str(c, id_key), *iid = NULL, *type = NULL;
    if (!strcmp(kind, K_SNAP)) {
        iid = twin__aws_input_str(c, "DBInstanceIdentifier");
        type = twin__aws_input_str(c, "SnapshotType");
    }
    json_t *out = json_array();
    if (id) {
        json_t *d = need_resource(c, kind, id);
        if (!d) {
            json_decref(out);
            return 0;
        }
        json_array_append_new(out, d);
    } else {
        json_t *all = twin__aws_list(c->t, kind);
        size_t i;
        json_t *obj;
        json_array_foreach(all, i, obj) {
            const json_t *d = twin__aws_doc(obj);
            if (iid && !twin__aws_is(twin__aws_str(d, "DBInstanceIdentifier"), iid))
                continue;
            if (type && !twin__aws_is(twin__aws_str(d, "SnapshotType"), type))
                continue;
            if (filter_match(json_object_get(c->input, "Filters"), d, map))
                json_array_append_new(out, json_deep_copy(d));
        }
        json_decref(all);
    }
    c->output = json_pack("{s:o}", out_key, out);
    return 0;
}

static int rds_describe_db_instances(aws_ctx *c)
{
    static const char *const map[][2] = {{"db-instance-id", "DBInstanceIdentifier"},
                                         {"engine", "Engine"},
                                         {"db-instance-class", "DBInstanceClass"},
                                         {NULL, NULL}};
    return describe_kind(c, K_DB, "DBInstanceIdentifier", map, "DBInstances");
}

static int rds_describe_db_snapshots(aws_ctx *c)
{
    static const char *const map[][2] = {{"db-instance-id", "DBInstanceIdentifier"},
                                         {"db-snapshot-id", "DBSnapshotIdentifier"},
                                         {"snapshot-type", "SnapshotType"},
                                         {"engine", "Engine"},
                                         {NULL, NULL}};
    return describe_kind(c, K_SNAP, "DBSnapshotIdentifier", map, "DBSnapshots");
}

/* ---- snapshots ---- */

/* A manual snapshot of instance d (available at once: see the header). */
static json_t *snapshot_of(twin *t, const json_t *d, const char *sid, const json_t *tags)
{
    static const char *const keys[] = {"DBInstanceIdentifier", "Engine", "EngineVersion", "AllocatedStorage",
                                       "AvailabilityZone", "InstanceCreateTime", "MasterUsername", "LicenseModel",
                                       "StorageType", "Iops", "StorageEncrypted", "KmsKeyId", "DbiResourceId", NULL};
    char *now = twin__timestamp(t), *res = twin_xasprintf("snapshot:%s", sid);
    char *arn = twin__aws_arn(t, "rds", 1, res);
    json_t *s = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "DBSnapshotIdentifier", sid, "SnapshotCreateTime", now,
                          "Status", "available", "SnapshotType", "manual", "PercentProgress", 100, "DBSnapshotArn", arn);
    for (int k = 0; keys[k]; k++) {
        json_t *v = json_object_get(d, keys[k]);
        if (v)
            json_object_set(s, !strcmp(keys[k], "StorageEncrypted") ? "Encrypted" : keys[k], v);
    }
    json_t *port = json_object_get(json_object_get(d, "Endpoint"), "Port");
    if (port)
        json_object_set(s, "Port", port);
    json_t *vpc = json_object_get(json_object_get(d, "DBSubnetGroup"), "VpcId");
    if (vpc)
        json_object_set(s, "VpcId", vpc);
    json_t *tl = tags ? json_deep_copy(tags) : json_array();
    if (json_is_true(json_object_get(d, "CopyTagsToSnapshot"))) {
        size_t i;
        json_t *tag;
        json_array_foreach(json_object_get(d, "TagList"), i, tag) json_array_append(tl, tag);
    }
    json_object_set_new(s, "TagList", tl);
    free(now);
    free(res);
    free(arn);
    return s;
}

static int valid_identifier(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 255 || !((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= 'A' && id[0] <= 'Z')) ||
        id[n - 1] == '-' || strstr(id, "--"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') ||
              id[i] == '-'))
            return 0;
    return 1;
}

/* Checks that a new snapshot id is free and well formed: 0, or -1 with
 * the AWS error set. */
static int snapshot_id_free(aws_ctx *c, const char *sid)
{
    if (!valid_identifier(sid)) {
        twin__aws_error(c, 400, "InvalidParameterValue", "The parameter DBSnapshotIdentifier is not a valid identifier. "
                        "Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; "
                        "and must not end with a hyphen or contain two consecutive hyphens.");
        return -1;
    }
    json_t *old = twin__aws_get(c->t, K_SNAP, sid);
    if (old) {
        json_decref(old);
        twin__aws_error(c, 400, "DBSnapshotAlreadyExists",
                        "Cannot create the snapshot because a snapshot with the identifier %s already exists.", sid);
        return -1;
    }
    return 0;
}

static int rds_create_db_snapshot(aws_ctx *c)
{
    const char *id, *sid;
    if (!need(c, "DBSnapshotIdentifier", &sid))
        return 0;
    json_t *d = need_instance(c, &id);
    if (!d)
        return 0;
    if (strcmp(status_of(d), "available")) {
        twin__aws_error(c, 400, "InvalidDBInstanceState", "Cannot create a snapshot because the database instance %s "
                        "is not currently in the available state.", id);
    } else if (snapshot_id_free(c, sid) == 0) {
        json_t *s = snapshot_of(c->t, d, sid, json_object_get(c->input, "Tags"));
        twin__aws_put(c->t, K_SNAP, sid, s);
        c->output = json_pack("{s:o}", "DBSnapshot", json_deep_copy(s));
        json_decref(s);
    }
    json_decref(d);
    return 0;
}

static int rds_delete_db_snapshot(aws_ctx *c)
{
    const char *sid;
    if (!need(c, "DBSnapshotIdentifier", &sid))
        return 0;
    json_t *s = need_resource(c, K_SNAP, sid);
    if (!s)
        return 0;
    const char *type = twin__aws_str(s, "SnapshotType"), *status = twin__aws_str(s, "Status");
    if (type && !strcmp(type, "automated")) {
        json_decref(s);
        return twin__aws_error(c, 400, "InvalidDBSnapshotState",
                               "Only manual snapshots may be deleted: %s is an automated snapshot.", sid);
    }
    if (status && strcmp(status, "available") && strcmp(status, "failed")) {
        json_decref(s);
        return twin__aws_error(c, 400, "InvalidDBSnapshotState", "DBSnapshot %s is not in available state.", sid);
    }
    twin__aws_del(c->t, K_SNAP, sid);
    json_object_set_new(s, "Status", json_string("deleted"));
    c->output = json_pack("{s:o}", "DBSnapshot", s);
    return 0;
}

/* ---- instances ---- */

static int rds_delete_db_instance(aws_ctx *c)
{
    const char *id;
    json_t *d = need_instance(c, &id);
    if (!d)
        return 0;
    int skip = json_is_true(json_object_get(c->input, "SkipFinalSnapshot"));
    const char *final = twin__aws_input_str(c, "FinalDBSnapshotIdentifier");
    const char *status = status_of(d);
    if (json_is_true(json_object_get(d, "DeletionProtection"))) {
        twin__aws_error(c, 400, "InvalidParameterCombination",
                        "Cannot delete protected DB Instance, please disable deletion protection and try again.");
    } else if (!skip && !final) {
        twin__aws_error(c, 400, "InvalidParameterCombination",
                        "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.");
    } else if (skip && final) {
        twin__aws_error(c, 400, "InvalidParameterCombination",
                        "Cannot specify both SkipFinalSnapshot and FinalDBSnapshotIdentifier.");
    } else if (!strcmp(status, "deleting")) {
        twin__aws_error(c, 400, "InvalidDBInstanceState", "Instance %s is already being deleted.", id);
    } else if (final && snapshot_id_free(c, final) == 0) {
        json_t *s = snapshot_of(c->t, d, final, NULL);
        twin__aws_put(c->t, K_SNAP, final, s);
        json_decref(s);
    }
    if (!c->code) {
        twin__aws_del(c->t, K_DB, id);
        json_object_set_new(d, "DBInstanceStatus", json_string("deleting"));
        c->output = json_pack("{s:O}", "DBInstance", d);
    }
    json_decref(d);
    return 0;
}

static void pending_set(json_t *d, const char *key, json_t *v)
{
    json_t *p = json_object_get(d, "PendingModifiedValues");
    if (!json_is_object(p)) {
        p = json_object();
        json_object_set_new(d, "PendingModifiedValues", p);
    }
    json_object_set_new(p, key, v);
}

static int rds_modify_db_instance(aws_ctx *c)
{
    /* applied at once whatever ApplyImmediately says */
    static const char *const now_keys[][2] = {{"DeletionProtection", "DeletionProtection"},
                                              {"BackupRetentionPeriod", "BackupRetentionPeriod"},
                                              {"PubliclyAccessible", "PubliclyAccessible"},
                                              {"CopyTagsToSnapshot", "CopyTagsToSnapshot"},
                                              {"AutoMinorVersionUpgrade", "AutoMinorVersionUpgrade"},
                                              {"PreferredBackupWindow", "PreferredBackupWindow"},
                                              {"PreferredMaintenanceWindow", "PreferredMaintenanceWindow"},
                                              {"MaxAllocatedStorage", "MaxAllocatedStorage"}};
    /* applied now with ApplyImmediately, else pending */
    static const char *const later_keys[] = {"DBInstanceClass", "AllocatedStorage", "StorageType", "MultiAZ",
                                             "EngineVersion", "Iops"};
    static const char *const handled[] = {"DBInstanceIdentifier", "ApplyImmediately", "MasterUserPassword",
                                          "VpcSecurityGroupIds"};
    const char *id;
    json_t *d = need_instance(c, &id);
    if (!d)
        return 0;
    /* what the twin cannot model fails closed rather than pass unseen */
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)c->input, key, v) {
        int known = 0;
        for (size_t i = 0; i < sizeof now_keys / sizeof *now_keys; i++)
            known |= !strcmp(key, now_keys[i][0]);
        for (size_t i = 0; i < sizeof later_keys / sizeof *later_keys; i++)
            known |= !strcmp(key, later_keys[i]);
        for (size_t i = 0; i < sizeof handled / sizeof *handled; i++)
            known |= !strcmp(key, handled[i]);
        if (!known) {
            json_decref(d);
            snprintf(c->message, sizeof c->message, "ModifyDBInstance: the twin does not model %s", key);
            return -1;
        }
    }
    const char *status = status_of(d);
    if (strcmp(status, "available") && strcmp(status, "storage-optimization")) {
        json_decref(d);
        return twin__aws_error(c, 400, "InvalidDBInstanceState", "Database instance is not in available state.");
    }
    json_t *as = json_object_get(c->input, "AllocatedStorage");
    if (json_is_integer(as) && json_integer_value(as) < json_integer_value(json_object_get(d, "AllocatedStorage"))) {
        json_decref(d);
        return twin__aws_error(
            c, 400, "InvalidParameterCombination", "Invalid storage size for engine name %s and storage type %s: %lld",
            twin__aws_str(d, "Engine") ? twin__aws_str(d, "Engine") : "",
            twin__aws_str(d, "StorageType") ? twin__aws_str(d, "StorageType") : "", (long long)json_integer_value(as));
    }
    int immediately = json_is_true(json_object_get(c->input, "ApplyImmediately"));
    for (size_t i = 0; i < sizeof now_keys / sizeof *now_keys; i++)
        if ((v = json_object_get(c->input, now_keys[i][0])))
            json_object_set(d, now_keys[i][1], v);
    for (size_t i = 0; i < sizeof later_keys / sizeof *later_keys; i++) {
        if (!(v = json_object_get(c->input, later_keys[i])))
            continue;
        if (immediately)
            json_object_set(d, later_keys[i], v);
        else
            pending_set(d, later_keys[i], json_incref(v));
    }
    json_t *sgs = json_object_get(c->input, "VpcSecurityGroupIds");
    if (json_is_array(sgs)) {
        json_t *list = json_array();
        size_t i;
        json_array_foreach(sgs, i, v) if (json_is_string(v)) json_array_append_new(
            list, json_pack("{s:O, s:s}", "VpcSecurityGroupId", v, "Status", "active"));
        json_object_set_new(d, "VpcSecurityGroups", list);
    }
    if (twin__aws_input_str(c, "MasterUserPassword"))
        pending_set(d, "MasterUserPassword", json_string("****"));
    twin__aws_put(c->t, K_DB, id, d);
    c->output = json_pack("{s:o}", "DBInstance", json_deep_copy(d));
    json_decref(d);
    return 0;
}

static int rds_set_status(aws_ctx *c)
{
    const char *id;
    json_t *d = need_instance(c, &id);
    if (!d)
        return 0;
    const char *status = status_of(d), *next;
    if (!strcmp(c->operation, "StopDBInstance")) {
        if (strcmp(status, "available")) {
            json_decref(d);
            return twin__aws_error(c, 400, "InvalidDBInstanceState", "Instance %s is not in available state.", id);
        }
        const char *sid = twin__aws_input_str(c, "DBSnapshotIdentifier");
        if (sid) {
            if (snapshot_id_free(c, sid) != 0) {
                json_decref(d);
                return 0;
            }
            json_t *s = snapshot_of(c->t, d, sid, NULL);
            twin__aws_put(c->t, K_SNAP, sid, s);
            json_decref(s);
        }
        next = "stopped";
    } else if (!strcmp(c->operation, "StartDBInstance")) {
        if (strcmp(status, "stopped")) {
            json_decref(d);
            return twin__aws_error(c, 400, "InvalidDBInstanceState", "Instance %s is not stopped, cannot be started.",
                                   id);
        }
        next = "available";
    } else {
        if (strcmp(status, "available")) {
            json_decref(d);
            return twin__aws_error(c, 400, "InvalidDBInstanceState", "DBInstance %s is not in available state.", id);
        }
        next = "available";   /* rebooted */
    }
    json_object_set_new(d, "DBInstanceStatus", json_string(next));
    twin__aws_put(c->t, K_DB, id, d);
    c->output = json_pack("{s:o}", "DBInstance", json_deep_copy(d));
    json_decref(d);
    return 0;
}

/* ---- tags, by ARN ---- */

/* The resource an RDS ARN names: *kind and a copy of its document, or NULL
 * with the error set (*id points into arn). */
static json_t *resource_of(aws_ctx *c, const char *arn, const char **kind, const char **id)
{
    const char *db = strstr(arn, ":db:"), *snap = strstr(arn, ":snapshot:");
    if (strncmp(arn, "arn:aws:rds:", 12) || (!db && !snap)) {
        twin__aws_error(c, 400, "InvalidParameterValue", "Invalid resource name: %s", arn);
        return NULL;
    }
    *kind = db ? K_DB : K_SNAP;
    *id = db ? db + 4 : snap + 10;
    return need_resource(c, *kind, *id);
}

static int rds_tags(aws_ctx *c)
{
    const char *arn, *kind, *id;
    if (!need(c, "ResourceName", &arn))
        return 0;
    json_t *d = resource_of(c, arn, &kind, &id);
    if (!d)
        return 0;
    json_t *tags = twin__aws_array_of(d, "TagList");
    if (!strcmp(c->operation, "ListTagsForResource")) {
        c->output = json_pack("{s:O}", "TagList", tags);
        json_decref(d);
        return 0;
    }
    size_t i;
    json_t *v;
    if (!strcmp(c->operation, "AddTagsToResource")) {
        json_array_foreach(json_object_get(c->input, "Tags"), i, v) {
            const char *k = twin__aws_str(v, "Key"), *val = twin__aws_str(v, "Value");
            if (k)
                twin__aws_tag_set(tags, k, val ? val : "");
        }
        if (json_array_size(tags) > 50) {
            json_decref(d);
            return twin__aws_error(c, 400, "TagQuotaPerResourceExceeded", "Cannot have more than 50 tags on a resource.");
        }
    } else {
        json_array_foreach(json_object_get(c->input, "TagKeys"), i, v) twin__aws_tag_remove(tags, json_string_value(v));
    }
    return twin__aws_done(c, kind, id, d, 1);
}

const aws_op twin__aws_rds_ops[] = {
    {"rds", "DescribeDBInstances", 1, rds_describe_db_instances},
    {"rds", "DescribeDBSnapshots", 1, rds_describe_db_snapshots},
    {"rds", "ListTagsForResource", 1, rds_tags},
    {"rds", "DeleteDBInstance", 0, rds_delete_db_instance},
    {"rds", "ModifyDBInstance", 0, rds_modify_db_instance},
    {"rds", "StopDBInstance", 0, rds_set_status},
    {"rds", "StartDBInstance", 0, rds_set_status},
    {"rds", "RebootDBInstance", 0, rds_set_status},
    {"rds", "CreateDBSnapshot", 0, rds_create_db_snapshot},
    {"rds", "DeleteDBSnapshot", 0, rds_delete_db_snapshot},
    {"rds", "AddTagsToResource", 0, rds_tags},
    {"rds", "RemoveTagsFromResource", 0, rds_tags},
    {NULL, NULL, 0, NULL},
};

/* ---- impact: data_at_risk ---- */

/* Whether the open operation made a snapshot of instance id. */
static int snapshot_made(twin *t, const char *id)
{
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *ch = e->value;
        if (!strcmp(ch->kind, K_SNAP) && !ch->before && ch->after) {
            const char *of = twin__aws_str(twin__aws_doc(ch->after), "DBInstanceIdentifier");
            if (of && !strcmp(of, id))
                return 1;
        }
    }
    return 0;
}

void twin__aws_rds_impact(twin *t, json_t *impact)
{
    json_t *risk = twin__aws_array_of(impact, "data_at_risk");
    TWIN_MAP_FOREACH(&t->changes, e) {
        twin_change *ch = e->value;
        if (!ch->before || ch->after)
            continue;
        const json_t *d = twin__aws_doc(ch->before);
        if (!strcmp(ch->kind, K_DB)) {
            json_array_append_new(risk, json_pack("{s:s, s:s, s:b, s:b}", "type", "db_instance", "id", ch->name,
                                                  "critical", twin__aws_critical(d), "final_snapshot",
                                                  snapshot_made(t, ch->name)));
        } else if (!strcmp(ch->kind, K_SNAP)) {
            /* critical: its own tags, or the instance it was taken of */
            int critical = twin__aws_critical(d);
            const char *of = twin__aws_str(d, "DBInstanceIdentifier");
            json_t *inst = of && !critical ? twin__aws_before(t, K_DB, of) : NULL;
            critical |= inst && twin__aws_critical(twin__aws_doc(inst));
            json_decref(inst);
            json_array_append_new(risk, json_pack("{s:s, s:s, s:b}", "type", "db_snapshot", "id", ch->name, "critical",
                                                  critical));
        }
    }
}

/* ---- import and export ---- */

/* One item of an import (twin__aws_import_items). */
static int import_one(twin *t, const char *kind, const char *key, size_t i, const json_t *item, const char *id,
                      char *err, size_t errlen)
{
    json_t *d = json_deep_copy(item);
    const char *arn_key = !strcmp(kind, K_DB) ? "DBInstanceArn" : "DBSnapshotArn";
    if (!twin__aws_str(d, arn_key)) {
        char *res = twin_xasprintf("%s:%s", !strcmp(kind, K_DB) ? "db" : "snapshot", id);
        char *arn = twin__aws_arn(t, "rds", 1, res);
        json_object_set_new(d, arn_key, json_string(arn));
        free(res);
        free(arn);
    }
    if (!json_is_array(json_object_get(d, "TagList")))
        json_object_set_new(d, "TagList", json_array());
    if (!strcmp(kind, K_DB) && !twin__aws_str(d, "DBInstanceStatus"))
        json_object_set_new(d, "DBInstanceStatus", json_string("available"));
    if (!strcmp(kind, K_SNAP) && !twin__aws_str(d, "Status"))
        json_object_set_new(d, "Status", json_string("available"));
    twin__aws_put(t, kind, id, d);
    json_decref(d);
    return 0;
}

int twin__aws_rds_import(twin *t, const json_t *doc, char *err, size_t errlen)
{
    int a = twin__aws_import_items(t, doc, "DBInstances", K_DB, "DBInstanceIdentifier", NULL, import_one, err,
                                   errlen);
    if (a < 0)
        return -1;
    int b = twin__aws_import_items(t, doc, "DBSnapshots", K_SNAP, "DBSnapshotIdentifier", NULL, import_one, err,
                                   errlen);
    return b < 0 ? -1 : a + b;
}

void twin__aws_rds_export(twin *t, json_t *state)
{
    const char *keys[] = {"DBInstances", "DBSnapshots"}, *kinds[] = {K_DB, K_SNAP};
    for (int k = 0; k < 2; k++)
        json_object_set_new(state, keys[k], twin__aws_docs(t, kinds[k], 1));
}

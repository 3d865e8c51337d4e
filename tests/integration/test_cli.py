"""The AWS CLI against a region node (aws dynamodb ... --endpoint-url)."""

import json

from harness import NodeTestCase, table_arn


def j(obj):
    return json.dumps(obj, separators=(",", ":"))


class CliTest(NodeTestCase):

    def test_cli_round_trip(self):
        node = self.node
        out = node.aws("create-table", "--table-name", "cli_t",
                       "--attribute-definitions",
                       "AttributeName=pk,AttributeType=S",
                       "AttributeName=sk,AttributeType=N",
                       "--key-schema", "AttributeName=pk,KeyType=HASH",
                       "AttributeName=sk,KeyType=RANGE",
                       "--billing-mode", "PAY_PER_REQUEST")
        self.assertEqual(out["TableDescription"]["TableName"], "cli_t")
        node.aws("wait", "table-exists", "--table-name", "cli_t")

        out = node.aws("describe-table", "--table-name", "cli_t")
        t = out["Table"]
        self.assertEqual(t["TableStatus"], "ACTIVE")
        self.assertEqual(t["TableArn"], table_arn("cli_t"))
        self.assertEqual(t["KeySchema"],
                         [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}])

        out = node.aws("list-tables")
        self.assertIn("cli_t", out["TableNames"])

        for i in range(5):
            node.aws("put-item", "--table-name", "cli_t", "--item",
                     j({"pk": {"S": "user"}, "sk": {"N": str(i * 10)},
                        "name": {"S": "n%d" % i},
                        "tags": {"SS": ["a", "b"]},
                        "blob": {"B": "AAEC/w=="}}))
        out = node.aws("get-item", "--table-name", "cli_t", "--key",
                       j({"pk": {"S": "user"}, "sk": {"N": "20"}}))
        item = out["Item"]
        self.assertEqual(item["name"], {"S": "n2"})
        self.assertEqual(item["sk"], {"N": "20"})
        self.assertEqual(sorted(item["tags"]["SS"]), ["a", "b"])
        # AWS CLI v2 reads blobs in JSON input as base64; v1 takes the text
        # itself as the bytes (and prints them base64-encoded).
        self.assertIn(item["blob"]["B"], ("AAEC/w==", "QUFFQy93PT0="))

        out = node.aws("get-item", "--table-name", "cli_t", "--key",
                       j({"pk": {"S": "user"}, "sk": {"N": "20"}}),
                       "--projection-expression", "#n",
                       "--expression-attribute-names", j({"#n": "name"}))
        self.assertEqual(out["Item"], {"name": {"S": "n2"}})

        out = node.aws("query", "--table-name", "cli_t",
                       "--key-condition-expression",
                       "pk = :p AND sk >= :lo",
                       "--expression-attribute-values",
                       j({":p": {"S": "user"}, ":lo": {"N": "15"}}))
        self.assertEqual(out["Count"], 3)
        self.assertEqual([it["sk"]["N"] for it in out["Items"]],
                         ["20", "30", "40"])
        out = node.aws("query", "--table-name", "cli_t",
                       "--key-condition-expression", "pk = :p",
                       "--expression-attribute-values",
                       j({":p": {"S": "user"}}), "--no-scan-index-forward",
                       "--max-items", "2")
        self.assertEqual([it["sk"]["N"] for it in out["Items"]],
                         ["40", "30"])

        out = node.aws("update-item", "--table-name", "cli_t", "--key",
                       j({"pk": {"S": "user"}, "sk": {"N": "0"}}),
                       "--update-expression", "SET #n = :v",
                       "--expression-attribute-names", j({"#n": "name"}),
                       "--expression-attribute-values",
                       j({":v": {"S": "renamed"}}),
                       "--return-values", "UPDATED_NEW")
        self.assertEqual(out["Attributes"], {"name": {"S": "renamed"}})

        out = node.aws("batch-write-item", "--request-items", j({"cli_t": [
            {"PutRequest": {"Item": {"pk": {"S": "other"},
                                     "sk": {"N": str(i)}}}}
            for i in range(3)]}))
        self.assertEqual(out["UnprocessedItems"], {})

        out = node.aws("scan", "--table-name", "cli_t")
        self.assertEqual(out["Count"], 8)
        self.assertEqual(len(out["Items"]), 8)
        out = node.aws("scan", "--table-name", "cli_t", "--select", "COUNT")
        self.assertEqual(out["Count"], 8)
        # The CLI's own pagination over small pages sees everything once.
        out = node.aws("scan", "--table-name", "cli_t", "--page-size", "3")
        keys = sorted((it["pk"]["S"], int(it["sk"]["N"]))
                      for it in out["Items"])
        self.assertEqual(keys, [("other", 0), ("other", 1), ("other", 2)] +
                         [("user", i * 10) for i in range(5)])

        out = node.aws("delete-item", "--table-name", "cli_t", "--key",
                       j({"pk": {"S": "user"}, "sk": {"N": "0"}}),
                       "--return-values", "ALL_OLD")
        self.assertEqual(out["Attributes"]["name"], {"S": "renamed"})
        out = node.aws("get-item", "--table-name", "cli_t", "--key",
                       j({"pk": {"S": "user"}, "sk": {"N": "0"}}))
        self.assertTrue(out is None or "Item" not in out, out)

        out = node.aws("delete-table", "--table-name", "cli_t")
        self.assertEqual(out["TableDescription"]["TableName"], "cli_t")
        rc, err = node.aws_fail("describe-table", "--table-name", "cli_t")
        self.assertNotEqual(rc, 0)
        self.assertIn("ResourceNotFoundException", err)

    def test_cli_errors(self):
        node = self.node
        rc, err = node.aws_fail("get-item", "--table-name", "cli_none",
                                "--key", j({"pk": {"S": "x"}}))
        self.assertIn("ResourceNotFoundException", err)
        self.assertIn("Requested resource not found", err)

        node.aws("create-table", "--table-name", "cli_e",
                 "--attribute-definitions",
                 "AttributeName=pk,AttributeType=S",
                 "--key-schema", "AttributeName=pk,KeyType=HASH",
                 "--provisioned-throughput",
                 "ReadCapacityUnits=3,WriteCapacityUnits=2")
        out = node.aws("describe-table", "--table-name", "cli_e")
        pt = out["Table"]["ProvisionedThroughput"]
        self.assertEqual((pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]),
                         (3, 2))
        rc, err = node.aws_fail("create-table", "--table-name", "cli_e",
                                "--attribute-definitions",
                                "AttributeName=pk,AttributeType=S",
                                "--key-schema",
                                "AttributeName=pk,KeyType=HASH",
                                "--billing-mode", "PAY_PER_REQUEST")
        self.assertIn("ResourceInUseException", err)

        node.aws("put-item", "--table-name", "cli_e", "--item",
                 j({"pk": {"S": "x"}}))
        rc, err = node.aws_fail("put-item", "--table-name", "cli_e",
                                "--item", j({"pk": {"S": "x"}}),
                                "--condition-expression",
                                "attribute_not_exists(pk)")
        self.assertIn("ConditionalCheckFailedException", err)

        rc, err = node.aws_fail("put-item", "--table-name", "cli_e",
                                "--item", j({"pk": {"N": "1"}}))
        self.assertIn("ValidationException", err)

        rc, err = node.aws_fail("create-table", "--table-name", "ab",
                                "--attribute-definitions",
                                "AttributeName=pk,AttributeType=S",
                                "--key-schema",
                                "AttributeName=pk,KeyType=HASH",
                                "--billing-mode", "PAY_PER_REQUEST")
        self.assertIn("ValidationException", err)

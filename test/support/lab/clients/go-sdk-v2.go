// Lab client: the AWS SDK for Go v2 as Debian packages it (golang-github-aws-aws-sdk-go-v2-dev).
// Built by test/support/lab/real-clients.ts in GOPATH mode against /usr/share/gocode.
//
//	go-sdk-v2 metadata     imds.NewFromConfig(cfg).GetMetadata(instance-id)
//	go-sdk-v2 credentials  config.LoadDefaultConfig's credential chain (ends at ec2rolecreds)
//
// Prints only whether it got an answer: never a value.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
)

func main() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		report(err)
	}
	mode := "credentials"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "metadata":
		_, err = imds.NewFromConfig(cfg).GetMetadata(ctx, &imds.GetMetadataInput{Path: "instance-id"})
	default:
		_, err = cfg.Credentials.Retrieve(ctx)
	}
	report(err)
}

func report(err error) {
	if err != nil {
		fmt.Println("error")
		os.Exit(1)
	}
	fmt.Println("ok")
	os.Exit(0)
}

package cloudsim

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// obj is a JSON object answer; handlers build their responses from it and
// typed views, the server adds RequestId.
type obj = map[string]any

// newRequestID returns an upper-case UUID like the services' RequestId.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
}

// writeAnswer encodes body as JSON or XML (root element rootName) with status.
func writeAnswer(w http.ResponseWriter, status int, format, rootName string, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "cloudsim: encoding the answer failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if strings.EqualFold(format, "XML") {
		var buf bytes.Buffer
		buf.WriteString(xml.Header)
		if err := jsonToXML(&buf, rootName, raw); err != nil {
			http.Error(w, "cloudsim: encoding the answer as XML failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

// errorBody is the services' error document.
func errorBody(e *APIError, requestID, hostID, product string) obj {
	return obj{
		"RequestId": requestID,
		"HostId":    hostID,
		"Code":      e.Code,
		"Message":   e.Message,
		"Recommend": fmt.Sprintf("https://api.aliyun.com/troubleshoot?q=%s&product=%s&requestId=%s", e.Code, product, requestID),
	}
}

// jsonToXML renders a JSON document the way the services render XML: object
// members become elements, an array repeats its member's element name.
func jsonToXML(w io.Writer, root string, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	if err := xmlValue(enc, root, v); err != nil {
		return err
	}
	return enc.Flush()
}

func xmlValue(enc *xml.Encoder, name string, v any) error {
	switch t := v.(type) {
	case []any:
		for _, item := range t {
			if err := xmlValue(enc, name, item); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		start := xml.StartElement{Name: xml.Name{Local: name}}
		if err := enc.EncodeToken(start); err != nil {
			return err
		}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := xmlValue(enc, k, t[k]); err != nil {
				return err
			}
		}
		return enc.EncodeToken(start.End())
	case nil:
		return enc.EncodeElement("", xml.StartElement{Name: xml.Name{Local: name}})
	default:
		return enc.EncodeElement(fmt.Sprint(t), xml.StartElement{Name: xml.Name{Local: name}})
	}
}

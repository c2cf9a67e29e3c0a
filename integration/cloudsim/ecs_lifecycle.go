package cloudsim

import (
	"context"
	"time"
)

// The instance state machine:
//
//	RunInstances:   Pending -(create_time)-> Starting -(backend start, boot_time)-> Running
//	CreateInstance: Pending -(create_time)-> Stopped
//	StartInstance:  Stopped -> Starting -> Running
//	StopInstance:   Running -> Stopping -(backend stop, stop_time)-> Stopped
//	RebootInstance: Running -> Stopping -> Starting -> Running
//
// A transition goroutine carries the instance's op number and gives up when
// the instance has moved on (deleted, or another operation began).

// current returns the instance if op is still its latest operation. The
// caller holds s.mu.
func (s *Server) current(id string, op int) *instance {
	inst := s.st.instances.at(id)
	if inst == nil || inst.op != op {
		return nil
	}
	return inst
}

func (s *Server) createFlow(ctx context.Context, id string, op int, run bool) {
	if sleepCtx(ctx, s.faults.get().CreateTime.D()) != nil {
		return
	}
	s.mu.Lock()
	inst := s.current(id, op)
	if inst == nil {
		s.mu.Unlock()
		return
	}
	if !run {
		inst.Status = statusStopped
		s.mu.Unlock()
		return
	}
	inst.Status = statusStarting
	s.mu.Unlock()
	s.bootFlow(ctx, id, op)
}

// bootFlow starts the host and makes the instance Running once it answers and
// at least boot_time has passed; a host that fails to start leaves the
// instance Stopped.
func (s *Server) bootFlow(ctx context.Context, id string, op int) {
	began := time.Now()
	addrs, err := s.backend.Start(ctx, id)
	if err == nil {
		if sleepCtx(ctx, s.faults.get().BootTime.D()-time.Since(began)) != nil {
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst := s.current(id, op)
	if inst == nil {
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cloudsim: the host of an instance failed to start; the instance is Stopped", "instance", id, "backend", s.backend.Name(), "err", err)
		}
		inst.Status = statusStopped
		return
	}
	if addrs.PrivateIP != "" {
		inst.PrivateIP = addrs.PrivateIP
	}
	s.ips.Store(id, inst.PrivateIP)
	inst.Status = statusRunning
	inst.Started = time.Now().UTC()
}

// stopFlow stops the host; with reboot it starts it again afterwards.
func (s *Server) stopFlow(ctx context.Context, id string, op int, reboot bool) {
	began := time.Now()
	err := s.backend.Stop(ctx, id)
	if err == nil {
		if sleepCtx(ctx, s.faults.get().StopTime.D()-time.Since(began)) != nil {
			return
		}
	}
	s.mu.Lock()
	inst := s.current(id, op)
	if inst == nil {
		s.mu.Unlock()
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cloudsim: the host of an instance failed to stop; the instance stays Running", "instance", id, "backend", s.backend.Name(), "err", err)
		}
		inst.Status = statusRunning
		s.mu.Unlock()
		return
	}
	if !reboot {
		inst.Status = statusStopped
		s.mu.Unlock()
		return
	}
	inst.Status = statusStarting
	s.mu.Unlock()
	s.bootFlow(ctx, id, op)
}
